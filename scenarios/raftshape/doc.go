// Package raftshape holds the fault shapes, the client and the liveness
// phase that every hosted Raft implementation runs, written once against a
// small interface (Host) so that dsim's own Raft (scenarios/raft) and any
// third-party Raft hosted on dsim (examples/etcdraft hosts etcd-io/raft)
// run the same shape from the same seed with the same fault plan, and
// report the same metrics under the same names and definitions.
//
// What lives here:
//   - the implementation-neutral shapes (Shape): random halves, bridge,
//     majorities ring, one-way cuts, leader isolation, swarm, churn and
//     crash-restart with crash points after promises. Scripted shapes draw
//     from the scenario's workload stream in a fixed order and record what
//     they drew as a timeline (the "shape-faults.txt" artifact); generated
//     shapes hand sim the same fault options, so sim draws the same plan.
//     Crash points name messages by role (Promises): a vote reply and two
//     kinds of log acknowledgement, each implementation's own types;
//   - the client (Client): a command every ~30 ms to the first running peer
//     that accepts it as leader, from a drawn offset, and a read at a
//     drawn peer, with the same draws whatever the implementation does;
//   - the heal-then-progress phase (Liveness): one leader, a new commit,
//     and every peer caught up with what was committed before healing;
//   - the metrics recorder (Recorder): first leader, leader changes,
//     leaderless windows, commit and operation latency, messages and bytes
//     per commit, snapshots.
//
// Leader-targeted faults (isolate the leader, put the leader's side first)
// draw the same values in every implementation and resolve "the leader" at
// run time, so the plan is identical and only its resolution differs.
//
// It may import sim and scenarios only.
package raftshape
