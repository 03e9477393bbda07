package raft

import (
	"encoding/binary"

	"github.com/smilingraft/dsim/nodes/raft"
	"github.com/smilingraft/dsim/sim"
)

// host is the lab tester's service around one Raft peer: it applies
// committed commands (the harness's observer records them), and with
// snapEvery > 0 it snapshots from inside the apply loop after every index i
// with (i+1) % snapEvery == 0, like the 3D tester. On restart Raft reloads
// its snapshot itself and resumes after it.
type host struct {
	cfg       raft.Config
	snapEvery int
	r         *raft.Raft
	env       *sim.Env
	// hold, if set, says how long to hold a reply before Raft sees it (the
	// lab's long reordering delays replies, not requests).
	hold func() sim.Duration
}

// Start builds the Raft peer from the disk.
func (s *host) Start(env *sim.Env) {
	s.env = env
	r, err := raft.New(env, s.cfg, s.apply)
	if err != nil {
		env.Fail("setup", "raft.New: %v", err)
		return
	}
	s.r = r
}

func (s *host) apply(m raft.ApplyMsg) {
	if m.CommandValid && s.snapEvery > 0 && (m.Index+1)%uint64(s.snapEvery) == 0 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], m.Index)
		s.r.Snapshot(m.Index, b[:])
	}
}

// Receive hands every message to Raft.
func (s *host) Receive(from sim.NodeID, msg sim.Message) {
	if s.r == nil {
		return
	}
	if s.hold != nil {
		switch msg.(type) {
		case *raft.RequestVoteReply, *raft.AppendEntriesReply, *raft.InstallSnapshotReply:
			if d := s.hold(); d > 0 {
				s.env.After(d, func() { s.r.Step(from, msg) })
				return
			}
		}
	}
	s.r.Step(from, msg)
}

// Role reports Raft's term and leadership (for leader-targeted faults).
func (s *host) Role() (uint64, bool) {
	if s.r == nil {
		return 0, false
	}
	return s.r.State()
}

// Inspect shows Raft's state when a run stops at an event.
func (s *host) Inspect() any {
	if s.r == nil {
		return "no raft"
	}
	return s.r.Inspect()
}
