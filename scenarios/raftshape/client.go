package raftshape

import (
	"strconv"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// Client is the shapes' client, a world-level driver (not a node): every
// Every/2 to 3*Every/2 of virtual time it submits a fresh command "w<seq>"
// to the first running, unpaused peer that accepts it as leader, trying
// the peers in order from a drawn offset, and (with Reads) asks a drawn
// peer for a read. Its draws from the workload stream (offset, read peer,
// interval) are the same whatever the peers do, so the scripted shapes,
// which draw from the same stream, reshuffle identically for every
// implementation, and every implementation gets the same offered load.
type Client struct {
	// Every is the mean interval between commands.
	Every sim.Duration
	// Reads makes every tick also draw a peer and call Read on it.
	Reads bool
	// Propose offers cmd to peer i (running and unpaused) and reports
	// whether it took it as leader.
	Propose func(i int, cmd []byte) bool
	// Read asks peer i for a read (Reads only; nil: none is issued, the
	// draw is still made).
	Read func(i int)

	stopped bool
}

// Start begins the client's ticks on c's world over h's peers; the first
// comes after Every. A failed run stops them.
func (cl *Client) Start(c *scenarios.Cluster, h Host) {
	w, ids := c.W, h.Peers()
	n := len(ids)
	seq := 0
	var tick func()
	tick = func() {
		if w.Failure() != nil || cl.stopped {
			return
		}
		r := c.Workload
		seq++
		cmd := strconv.AppendInt([]byte{'w'}, int64(seq), 10) // "w<seq>", without fmt
		off := r.Intn(n)
		for j := 0; j < n; j++ {
			i := (off + j) % n
			if w.Up(ids[i]) && !w.Paused(ids[i]) && cl.Propose(i, cmd) {
				break
			}
		}
		if cl.Reads {
			i := r.Intn(n)
			if cl.Read != nil {
				cl.Read(i)
			}
		}
		w.After(cl.Every/2+sim.Duration(r.Intn(int(cl.Every))), tick)
	}
	w.After(cl.Every, tick)
}

// Stop ends the client's ticks.
func (cl *Client) Stop() { cl.stopped = true }
