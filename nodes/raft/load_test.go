package raft

import (
	"testing"
)

// TestLoadRefusesWellFramedNonsense reaches load's checks behind the
// checksums (never executed by the default campaign: the nemesis's bit flips
// fail a checksum first): records that frame and checksum correctly but say
// impossible things make a restarted node inert (Corrupt), never a node that
// runs on a made-up state.
func TestLoadRefusesWellFramedNonsense(t *testing.T) {
	rec := func(payloads ...[]byte) []byte {
		var b []byte
		for _, p := range payloads {
			b = appendRecord(b, p)
		}
		return b
	}
	u64 := func(kind byte, a, b uint64) []byte {
		p := []byte{kind}
		p = le.AppendUint64(p, a)
		return le.AppendUint64(p, b)
	}
	state := func(term uint64, vote int64) []byte {
		p := le.AppendUint64(nil, term)
		return le.AppendUint64(p, uint64(vote))
	}
	for _, c := range []struct {
		name  string
		files map[string][]byte // written over the victim's files; nil deletes
	}{
		{"state payload of 15 bytes", map[string][]byte{fileState: rec(make([]byte, 15))}},
		{"votedFor past the peers", map[string][]byte{fileState: rec(state(3, 7))}},
		{"snapshot shorter than its header", map[string][]byte{fileSnap: rec(make([]byte, 8))}},
		{"log without a base record", map[string][]byte{fileLog: rec(u64(kindCmd, 1, 1)), fileSnap: nil}},
		{"log holding only a torn base", map[string][]byte{fileLog: rec(u64(kindBase, 0, 0))[:10], fileSnap: nil}},
		{"log entry of an unknown kind", map[string][]byte{fileLog: rec(u64(kindBase, 0, 0), u64(9, 1, 1)), fileSnap: nil}},
		{"log entries with a gap", map[string][]byte{fileLog: rec(u64(kindBase, 0, 0), u64(kindCmd, 1, 1), u64(kindCmd, 3, 1)), fileSnap: nil}},
		{"log base beyond the snapshot", map[string][]byte{fileLog: rec(u64(kindBase, 5, 1)), fileSnap: nil}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := newCluster(t, 3, 1, reliable(), nil, 0)
			for k := 0; k < 3; k++ {
				cl.one("c", 3)
			}
			victim := (cl.oneLeader() + 1) % 3
			d := cl.w.Disk(cl.ids[victim]) // written while up: a crashed process writes nothing
			for name, b := range c.files {
				if b == nil {
					d.Delete(name)
				} else {
					d.Write(name, b)
				}
			}
			d.Sync()
			cl.crash(victim)
			cl.restart(victim)
			r := cl.node(victim).Raft()
			if r == nil || !r.Corrupt() {
				t.Fatalf("%s: the node runs on it (not Corrupt)", c.name)
			}
			cl.one("still-live", 2)
			if r.LastApplied() != 0 {
				t.Fatal("the corrupt node applied something")
			}
		})
	}
}
