package raft

import (
	"encoding/binary"
	"hash/fnv"

	"github.com/smilingraft/dsim/sim"
)

// Node is a standalone Raft server for Raft-only scenarios: the lab's tester
// service. It keeps the commands its Raft applied (for checkers), and when
// SnapshotEvery > 0 it snapshots after applying index i whenever
// (i+1) % SnapshotEvery == 0 (the lab uses 10). Its snapshot holds the last
// applied index, the number of commands applied and a running digest of
// every command, so two servers at one index can be compared even after
// their logs were discarded. On restart it restores from Raft's snapshot.
//
// It implements sim.Node, sim.Roler and sim.Inspector.
type Node struct {
	// Cfg configures the Raft peer (Cfg.Me is this server's number).
	Cfg Config
	// SnapshotEvery: 0 never snapshots; k snapshots after i when (i+1)%k==0.
	SnapshotEvery int
	// OnApply, if set, sees every ApplyMsg (server = Cfg.Me).
	OnApply func(server int, m ApplyMsg)

	env    *sim.Env
	r      *Raft
	last   uint64   // last applied index
	count  uint64   // commands applied, ever (snapshot included)
	digest uint64   // running hash of (index, command) pairs applied
	base   uint64   // index the applied commands below start after
	cmds   [][]byte // commands applied at base+1, base+2, ...
}

// Start boots (or reboots) the server from its disk.
func (n *Node) Start(env *sim.Env) {
	n.env = env
	r, err := New(env, n.Cfg, n.onApply)
	if err != nil {
		env.Fail("raft.config", "%v", err)
		return
	}
	n.r = r
	n.restore(r.SnapshotData(), r.SnapshotIndex())
}

// Receive routes Raft's messages to the peer.
func (n *Node) Receive(from sim.NodeID, msg sim.Message) {
	if n.r != nil {
		n.r.Step(from, msg)
	}
}

// Role reports the peer's term and whether it believes it leads.
func (n *Node) Role() (term uint64, leader bool) {
	if n.r == nil {
		return 0, false
	}
	return n.r.State()
}

// Raft returns the peer (nil if its Config was invalid).
func (n *Node) Raft() *Raft { return n.r }

// Submit starts cmd on the peer; see Raft.Start.
func (n *Node) Submit(cmd []byte) (index, term uint64, isLeader bool) {
	if n.r == nil {
		return 0, 0, false
	}
	return n.r.Start(cmd)
}

// LastApplied returns the last index the service applied (or restored).
func (n *Node) LastApplied() uint64 { return n.last }

// Digest returns the running digest of every command applied through
// LastApplied, and how many there were.
func (n *Node) Digest() (digest, count uint64) { return n.digest, n.count }

// Applied returns the commands this incarnation applied (or received by
// snapshot: none), starting right after index base.
func (n *Node) Applied() (base uint64, cmds [][]byte) { return n.base, n.cmds }

// Inspect returns a printable summary of the server.
func (n *Node) Inspect() any {
	if n.r == nil {
		return "no raft"
	}
	return map[string]any{"raft": n.r.Inspect(), "applied": n.last, "digest": n.digest}
}

func (n *Node) onApply(m ApplyMsg) {
	switch {
	case m.SnapshotValid:
		if m.SnapshotIndex > n.last {
			n.restore(m.Snapshot, m.SnapshotIndex)
		}
	case m.CommandValid || m.Noop:
		if m.Index != n.last+1 && !n.Cfg.NoAssertions {
			n.env.Fail("raft.node", "server %d applied index %d after %d", n.Cfg.Me, m.Index, n.last)
			return
		}
		n.last = m.Index
		n.count++
		n.digest = mix(n.digest, m.Index, m.Command)
		n.cmds = append(n.cmds, m.Command)
	}
	if n.OnApply != nil {
		n.OnApply(n.Cfg.Me, m)
	}
	if m.CommandValid && n.SnapshotEvery > 0 && (m.Index+1)%uint64(n.SnapshotEvery) == 0 {
		n.r.Snapshot(m.Index, n.encode())
	}
}

func mix(d, index uint64, cmd []byte) uint64 {
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], d)
	binary.LittleEndian.PutUint64(b[8:], index)
	h.Write(b[:])
	h.Write(cmd)
	return h.Sum64()
}

func (n *Node) encode() []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint64(b[0:], n.last)
	binary.LittleEndian.PutUint64(b[8:], n.count)
	binary.LittleEndian.PutUint64(b[16:], n.digest)
	return b
}

// restore loads the service state from a snapshot at index (nothing if
// empty).
func (n *Node) restore(data []byte, index uint64) {
	if len(data) == 0 {
		return
	}
	if len(data) != 24 {
		n.env.Fail("raft.node", "server %d: snapshot of %d bytes, want 24", n.Cfg.Me, len(data))
		return
	}
	n.last = binary.LittleEndian.Uint64(data[0:])
	n.count = binary.LittleEndian.Uint64(data[8:])
	n.digest = binary.LittleEndian.Uint64(data[16:])
	if n.last != index && !n.Cfg.NoAssertions {
		n.env.Fail("raft.node", "server %d: snapshot encodes index %d but Raft says %d", n.Cfg.Me, n.last, index)
	}
	n.base = n.last
	n.cmds = nil
}
