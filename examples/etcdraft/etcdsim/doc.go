// Package etcdsim hosts etcd-io/raft (go.etcd.io/raft/v3) RawNodes as dsim
// nodes, and registers the "etcd/..." scenarios that run them under dsim's
// nemesis with dsim's Raft checkers.
//
// A Node wraps one raft.RawNode. Everything the library needs from the
// outside comes from sim.Env: input is Step (a delivered message), Tick (an
// env.After timer) and Propose (a client); after each of them the node
// drains the Ready loop following etcd's contract for synchronous storage:
// persist the snapshot, entries and HardState to the sim disk (a
// raft.MemoryStorage mirrored to checksummed files) and Sync, then send the
// messages, then apply the committed entries, then Advance. No goroutines,
// channels or clocks are involved.
//
// etcd raft draws its election jitter from crypto/rand.Reader through a
// package-level source that no Config reaches; entropy.go swaps a reader fed
// from the node's own PRNG stream into crypto/rand.Reader around every call
// into a RawNode, under a process-wide mutex, so that worlds running in
// parallel in one process (campaign workers) never share it.
//
// It may import sim, scenarios, checkers, the etcd raft module and the
// standard library.
package etcdsim
