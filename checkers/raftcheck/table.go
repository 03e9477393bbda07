package raftcheck

import "github.com/smilingraft/dsim/sim"

// table holds the first entry known at each index. Raft indices grow one by
// one, so entries live in a slice indexed by index (no allocation per
// entry, unlike a map of pointers); an index far past the end, which only a
// broken server reports, goes to a map so that it cannot make the slice
// huge. Commands are copied into a slab rather than one allocation each: the
// checker keeps them for the whole run.
type table struct {
	dense []entry // by index; known ones have set
	far   map[uint64]*entry
	cmds  sim.Slab // the commands' copies
}

// farGap is how far past the dense end an index may be and still grow the
// slice.
const farGap = 1 << 12

// get returns the entry known at index. An index the dense slice grew past
// after it went to the map stays there.
func (t *table) get(index uint64) (*entry, bool) {
	if index < uint64(len(t.dense)) && t.dense[index].set {
		return &t.dense[index], true
	}
	e, ok := t.far[index]
	return e, ok
}

// put records e at index (not yet known there), copying its command.
func (t *table) put(index uint64, e entry) {
	if len(e.cmd) == 0 {
		e.cmd = nil
	} else {
		e.cmd = t.cmds.Copy(e.cmd)
	}
	if index >= uint64(len(t.dense)) && index-uint64(len(t.dense)) >= farGap {
		if t.far == nil {
			t.far = map[uint64]*entry{}
		}
		far := new(entry) // not &e: that would move every e to the heap
		*far = e
		t.far[index] = far
		return
	}
	if n := int(index) + 1 - len(t.dense); n > 0 {
		// The slots past the length were never written (the table only
		// grows), so they are zero.
		t.dense = sim.Grow(t.dense, n)[:index+1]
	}
	e.set = true
	t.dense[index] = e
}
