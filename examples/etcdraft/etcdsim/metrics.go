package etcdsim

import "github.com/smilingraft/dsim/nodes/kv"

// The etcd scenarios record dsim's Raft metrics under the same names and
// definitions through the shared recorder (raftshape.Recorder: first
// leader, leader changes, leaderless windows, commit and operation latency,
// messages and bytes per commit, snapshots), so `dsim compare` compares
// etcd variants (ReadOnlySafe vs lease reads, async vs sync storage) and
// etcd raft against dsim's Raft with one code path. The harness feeds it
// from the peers' observer: BecameLeader and Committed (harness.go), and
// the hooks below. A leader's append is seen through the white-box
// LogAppended report, so with etcd.whitebox=false the commit and operation
// latencies are not recorded. read_latency_ns is the KV clients' Gets
// (etcd's linearizable read loop: ReadIndex, or lease reads), gathered from
// the run's history at the end (readLatencies). The wire types report no size (sim.Sizer:
// giving them one would change every trace hash, the known findings'
// included), so bytes_per_commit is left out rather than counting client
// traffic only; msgs_per_commit is comparable. Recording never changes a
// run.

// LogAppended forwards to the checker and notes a command a leader
// appended to its own log (the start of its commit and operation
// latencies): the peer leads term, and the entry is a command above the
// highest index committed.
func (o hooks) LogAppended(server int, index, term, prevTerm uint64, cmd []byte, noop bool) {
	o.Checker.LogAppended(server, index, term, prevTerm, cmd, noop)
	h := o.h
	if noop || len(cmd) == 0 || index <= h.committed {
		return
	}
	if t, lead := h.Role(server); lead && t == term {
		h.m.Started(index, term, cmd)
	}
}

// Snapshotted forwards to the checker and counts the snapshot taken.
func (o hooks) Snapshotted(server int, index uint64) {
	o.Checker.Snapshotted(server, index)
	o.h.m.Snapshot(o.h.snapshotSize(server))
}

// SnapshotInstalled forwards to the checker and counts the snapshot
// installed (from a leader, or loaded at boot).
func (o hooks) SnapshotInstalled(server int, index, term uint64) {
	o.Checker.SnapshotInstalled(server, index, term)
	o.h.m.Snapshot(o.h.snapshotSize(server))
}

// snapshotSize is the size of peer i's current snapshot's data (0 if it
// is not running).
func (h *harness) snapshotSize(i int) int {
	nd, ok := h.w.Node(h.ids[i]).(*Node)
	if !ok || nd == nil || nd.st == nil {
		return 0
	}
	snap, err := nd.st.ms.Snapshot()
	if err != nil {
		return 0
	}
	return len(snap.Data)
}

// readLatencies returns the latency (ns) of every KV Get of the run that
// returned, for read_latency_ns (raftshape.Recorder.Reads).
func (h *harness) readLatencies() []float64 {
	var out []float64
	for _, o := range h.w.History() {
		if in, ok := kv.InputOf(o.Input); ok && in.Kind == kv.KindGet && !o.Pending() {
			out = append(out, float64(o.Return-o.Call))
		}
	}
	return out
}
