package etcdsim

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// The side-by-side workload: one etcd raft workload run on dsim's kernel
// (through this package's host, Node) and on a bare binary-heap event loop
// in the same process, so that the difference is what dsim costs per event
// on identical etcd raft code.
//
//   - 5 peers, ticks every 50 ms, ElectionTick 6, HeartbeatTick 2, PreVote
//     and CheckQuorum, no snapshots;
//   - the network of etcd/churn without its faults: 10% loss, 0..27 ms
//     delays, 1 in 20 messages up to 500 ms later (the long tail), half the
//     messages free to overtake (the rest FIFO per link);
//   - a client proposing every 15..45 ms through the peer claiming
//     leadership in the highest term (none: a random peer, which forwards);
//   - at each client step also a linearizable read: RawNode.ReadIndex on
//     the same peer (ReadOnlySafe: a heartbeat round on the leader, a
//     forwarded MsgReadIndex on a follower);
//   - a leader change each virtual second: at 1 s, 2 s, ... 9 s the leader
//     is cut off both ways for 500 ms (CheckQuorum makes it step down, the
//     others elect); at the same instants membership changes: at odd
//     seconds the leader is asked to demote a drawn other voter to a
//     learner, at even seconds to promote every learner back (one
//     ConfChangeV2, joint when it changes several), each applied by every
//     peer from its committed entry;
//   - 10 virtual seconds; the client stops at 9.5 s. Then both loops run on
//     in 10 ms slices until every peer has applied the same index (at most
//     sbDrain more), so that the final check is meaningful.
//
// Checked in both loops, and nothing else (the same cheap checks): every
// peer's state machine digest after index i is the same (online, per
// applied entry), and at the end every peer has applied the same index with
// the same digest, at least sbMinApplied entries.
//
// An event is one delivery (or drop at delivery) or one timer (peer ticks,
// the client, the leader-change script): both loops count every event they
// pop from their queue, and a drop at send time is no event in either.
const (
	sbPeers      = 5
	sbTick       = 50 * sim.Millisecond
	sbRun        = 10 * sim.Second
	sbClientStop = 9500 * sim.Millisecond
	sbIsolate    = 500 * sim.Millisecond
	sbMinApplied = 100
	sbDrain      = 2 * sim.Second
	sbSlice      = 10 * sim.Millisecond
)

// sbNet is the side-by-side network (etcd/churn's base network).
var sbNet = unreliable

func sbConfig(me int, peers []sim.NodeID, obs Observer) Config {
	return Config{Me: me, Peers: peers, Tick: sbTick, ElectionTicks: 6, HeartbeatTicks: 2,
		PreVote: true, CheckQuorum: true, Observer: obs}
}

// sbCheck is the cheap checker both loops feed: per-index state digests.
type sbCheck struct {
	digests []uint64 // digest|1 after index i, as first seen (0: none yet)
	applied [sbPeers]uint64
	last    [sbPeers]uint64
	err     error
}

func (c *sbCheck) State(server int, index, digest uint64) {
	for uint64(len(c.digests)) <= index {
		c.digests = append(c.digests, 0)
	}
	switch d := c.digests[index]; {
	case d == 0:
		c.digests[index] = digest | 1
	case d != digest|1 && c.err == nil:
		c.err = fmt.Errorf("server %d's state after index %d is %x, another peer's %x", server, index, digest|1, d)
	}
	c.applied[server], c.last[server] = index, digest|1
}

func (c *sbCheck) BecameLeader(int, uint64)              {}
func (c *sbCheck) Committed(int, uint64, uint64, []byte) {}
func (c *sbCheck) Applied(int, uint64, uint64, []byte)   {}
func (c *sbCheck) SnapshotInstalled(int, uint64, uint64) {}
func (c *sbCheck) Snapshotted(int, uint64)               {}

// converged reports whether every peer has applied the same index.
func (c *sbCheck) converged() bool {
	for i := 1; i < sbPeers; i++ {
		if c.applied[i] != c.applied[0] {
			return false
		}
	}
	return true
}

func (c *sbCheck) final() error {
	if c.err != nil {
		return c.err
	}
	for i := 1; i < sbPeers; i++ {
		if c.applied[i] != c.applied[0] || c.last[i] != c.last[0] {
			return fmt.Errorf("at the end server %d applied %d (digest %x), server 0 applied %d (digest %x)", i, c.applied[i], c.last[i], c.applied[0], c.last[0])
		}
	}
	if c.applied[0] < sbMinApplied {
		return fmt.Errorf("only %d entries applied", c.applied[0])
	}
	return nil
}

// sbReadCtx is the request context of the client's seq-th read.
func sbReadCtx(seq int) []byte {
	var b [8]byte
	for i := range b {
		b[i] = byte(seq >> (8 * i))
	}
	return b[:]
}

// sbConfChange is the membership change of the given second on leader l
// with configuration cs: at odd seconds demote a drawn other voter to a
// learner, at even seconds promote every learner back. Both loops call it
// at the same event with the same stream, so they draw alike.
func sbConfChange(second, l int, cs *pb.ConfState, r *sim.Rand) (*pb.ConfChangeV2, bool) {
	if len(cs.VotersOutgoing) > 0 {
		return nil, false
	}
	if second%2 == 1 {
		v := r.Intn(sbPeers)
		if v == l || !slices.Contains(cs.Voters, uint64(v+1)) || len(cs.Voters) <= 3 {
			return nil, false
		}
		return confChange(pb.ConfChangeTransitionAuto, "l%d", v+1), true
	}
	if len(cs.Learners) == 0 {
		return nil, false
	}
	changes := ""
	for i, id := range cs.Learners {
		if i > 0 {
			changes += " "
		}
		changes += "v" + strconv.FormatUint(id, 10)
	}
	return confChange(pb.ConfChangeTransitionAuto, "%s", changes), true
}

// sbResult is what a run of the workload did: its events, and peer 0's
// applied index and state digest at the end.
type sbResult struct {
	events, applied, digest uint64
}

// sbLeader returns the peer claiming leadership in the highest term, or -1.
func sbLeader(role func(i int) (uint64, bool)) int {
	best, bestTerm := -1, uint64(0)
	for i := 0; i < sbPeers; i++ {
		if t, lead := role(i); lead && (best < 0 || t > bestTerm) {
			best, bestTerm = i, t
		}
	}
	return best
}

// runOnDsim runs the workload on dsim's kernel with this package's host
// (storage mirrored on the sim disk with a Sync per Ready, as always) and
// returns the events the world ran.
func runOnDsim(seed uint64) (sbResult, error) {
	w := sim.NewWorld(seed, sim.Options{Net: sbNet})
	chk := &sbCheck{}
	ids := make([]sim.NodeID, sbPeers)
	for i := range ids {
		ids[i] = sim.NodeID(i)
	}
	nodes := make([]*Node, sbPeers)
	for i := range ids {
		cfg := sbConfig(i, ids, chk)
		w.AddNode("e"+strconv.Itoa(i), func() sim.Node { nodes[i] = New(cfg); return nodes[i] })
	}
	r := w.Rand("client")
	seq := 0
	var client func()
	client = func() {
		if w.Now() >= sim.Time(sbClientStop) {
			return
		}
		seq++
		best := sbLeader(func(i int) (uint64, bool) { return nodes[i].Role() })
		if best < 0 {
			best = r.Intn(sbPeers)
		}
		nodes[best].Propose([]byte("c" + strconv.Itoa(seq)))
		nodes[best].ReadIndex(sbReadCtx(seq))
		w.After(15*sim.Millisecond+r.Between(0, 30*sim.Millisecond), client)
	}
	w.After(30*sim.Millisecond, client)
	var change func()
	second := 0
	change = func() {
		second++
		if l := sbLeader(func(i int) (uint64, bool) { return nodes[i].Role() }); l >= 0 {
			w.Isolate(ids[l], ids)
			w.After(sbIsolate, func() {
				for _, a := range ids {
					for _, b := range ids {
						if a != b {
							w.Connect(a, b)
						}
					}
				}
				if l := sbLeader(func(i int) (uint64, bool) { return nodes[i].Role() }); l >= 0 {
					if cc, ok := sbConfChange(second, l, nodes[l].ConfState(), r); ok {
						nodes[l].ProposeConfChange(cc)
					}
				}
			})
		}
		if w.Now()+sim.Time(sim.Second) < sim.Time(sbRun) {
			w.After(sim.Second, change)
		}
	}
	w.After(sim.Second, change)
	w.RunUntil(sim.Time(sbRun))
	for !chk.converged() && w.Now() < sim.Time(sbRun+sbDrain) {
		w.RunFor(sbSlice)
	}
	res := sbResult{w.Events(), chk.applied[0], chk.last[0]}
	if f := w.Failure(); f != nil {
		return res, f
	}
	return res, chk.final()
}

// ---- the bare loop ----

// bareKind says what a bare event does.
type bareKind uint8

const (
	bareDeliver bareKind = iota
	bareTick
	bareClient
	bareChange
	bareHeal
)

// bareEv is one event of the bare loop, ordered by (at, seq).
type bareEv struct {
	at   sim.Time
	seq  uint64
	msg  *pb.Message
	kind bareKind
	node int8
	from int8
}

func bareLess(a, b *bareEv) bool { return a.at < b.at || (a.at == b.at && a.seq < b.seq) }

// bareHeap is a binary min-heap of events by value (as sim's own
// BenchmarkKernelBaselineHeap).
type bareHeap []bareEv

func (h *bareHeap) push(e bareEv) {
	*h = append(*h, e)
	s := *h
	for j := len(s) - 1; j > 0; {
		i := (j - 1) / 2
		if bareLess(&s[i], &s[j]) {
			break
		}
		s[i], s[j] = s[j], s[i]
		j = i
	}
}

func (h *bareHeap) pop() bareEv {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = bareEv{}
	s = s[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && bareLess(&s[r], &s[l]) {
			m = r
		}
		if bareLess(&s[i], &s[m]) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// bareNode is one etcd raft peer of the bare loop: a RawNode on a
// MemoryStorage, its Ready handled in the host's order (persist, send,
// apply, Advance) minus the disk.
type bareNode struct {
	me        int
	rn        *raft.RawNode
	ms        *raft.MemoryStorage
	rng       streamReader
	term      uint64
	leader    bool
	applied   uint64
	digest    uint64
	stepM     *pb.Message
	stepFn    func()
	tickFn    func()
	snapsSent []uint64
	cs        *pb.ConfState
	rd        raft.Ready // the Ready being handled (as Node.rd)
}

// bareWorld is the bare loop: the heap, the peers, a link matrix and the
// same draws as dsim's network (loss, delay, tail, reorder, FIFO).
type bareWorld struct {
	now    sim.Time
	seq    uint64
	q      bareHeap
	net    *sim.Rand
	nodes  [sbPeers]*bareNode
	cut    [sbPeers][sbPeers]bool
	last   [sbPeers][sbPeers]sim.Time
	chk    *sbCheck
	events uint64
	second int
	// confs and reads count conf changes applied and ReadStates returned
	// (peer 0's, for the test's check that the workload has them).
	confs, reads int
}

func (w *bareWorld) push(at sim.Time, k bareKind, node, from int, m *pb.Message) {
	w.seq++
	w.q.push(bareEv{at: at, seq: w.seq, msg: m, kind: k, node: int8(node), from: int8(from)})
}

// send copies m as the host's wire does (pbCloneMsg: a fresh message, in
// v3.6 the Entry values copied into a slice of exact capacity) and schedules it with
// dsim's draws: loss, a base delay, maybe a tail, maybe free to reorder.
func (w *bareWorld) send(from int, m *pb.Message) {
	to := int(pbU64(m.To)) - 1
	o := &sbNet
	if w.cut[from][to] || w.net.Chance(o.Loss) {
		return
	}
	c := pbCloneMsg(m)
	d := w.net.Between(o.DelayMin, o.DelayMax)
	if w.net.Chance(o.Tail) {
		d += w.net.Between(0, o.TailMax)
	}
	at := w.now.Add(d)
	if w.net.Chance(o.Reorder) {
	} else if l := &w.last[from][to]; at < *l {
		at = *l
	} else {
		*l = at
	}
	w.push(at, bareDeliver, to, from, c)
}

// do runs fn on peer n's RawNode and drains its Ready loop, with the
// peer's entropy in crypto/rand.Reader (as the host does).
func (w *bareWorld) do(n *bareNode, fn func()) {
	withEntropy(n.rng, func() {
		fn()
		for n.rn.HasReady() {
			n.rd = n.rn.Ready()
			w.handle(n, &n.rd)
			n.rn.Advance(n.rd)
			for _, to := range n.snapsSent {
				n.rn.ReportSnapshot(to, raft.SnapshotFinish)
			}
			n.snapsSent = n.snapsSent[:0]
		}
	})
}

func (w *bareWorld) handle(n *bareNode, rd *raft.Ready) {
	hs := pbHardState(&rd.HardState)
	if !pbIsEmptyHardState(hs) {
		n.term = pbU64(hs.Term)
	}
	if rd.SoftState != nil {
		n.leader = rd.SoftState.RaftState == raft.StateLeader
	}
	w.reads += len(rd.ReadStates)
	if snap := pbSnapshot(&rd.Snapshot); !pbIsEmptySnap(snap) {
		if err := pbCallSnapshot(n.ms.ApplySnapshot, snap); err != nil {
			panic(err)
		}
	}
	if len(rd.Entries) > 0 {
		if err := n.ms.Append(rd.Entries); err != nil {
			panic(err)
		}
	}
	if !pbIsEmptyHardState(hs) {
		if err := pbSetStorageHardState(n.ms, hs); err != nil {
			panic(err)
		}
	}
	for i := range rd.Messages {
		m := pbMsgAt(rd.Messages, i)
		w.send(n.me, m)
		if pbMsgType(m.Type) == pb.MsgSnap {
			n.snapsSent = append(n.snapsSent, pbU64(m.To))
		}
	}
	for i := range rd.CommittedEntries {
		e := pbEntryAt(rd.CommittedEntries, i)
		index := pbU64(e.Index)
		if index <= n.applied {
			continue
		}
		n.digest = mix(n.digest, index, e.Data)
		n.applied = index
		if pbEntryType(e.Type) == pb.EntryConfChangeV2 {
			cc := new(pb.ConfChangeV2)
			if err := pbUnmarshal(e.Data, cc); err != nil {
				panic(err)
			}
			n.cs = n.rn.ApplyConfChange(cc)
			if n.me == 0 {
				w.confs++
			}
		}
		w.chk.State(n.me, index, n.digest)
	}
}

// runBare runs the workload on the bare loop and returns its events.
func runBare(seed uint64) (sbResult, error) {
	w := &bareWorld{net: sim.NewRand(sim.StreamSeed(seed, "net")), chk: &sbCheck{}}
	cs := new(pb.ConfState)
	for i := 0; i < sbPeers; i++ {
		cs.Voters = append(cs.Voters, uint64(i+1))
	}
	for i := 0; i < sbPeers; i++ {
		n := &bareNode{me: i, ms: raft.NewMemoryStorage(), rng: streamReader{sim.NewRand(sim.StreamSeed(seed, "node/e"+strconv.Itoa(i)))}}
		if err := pbCallSnapshot(n.ms.ApplySnapshot, pbNewSnapshot(1, 1, cs, encodeState(1, 0))); err != nil {
			return sbResult{}, err
		}
		var err error
		withEntropy(n.rng, func() {
			n.rn, err = raft.NewRawNode(&raft.Config{ID: uint64(i + 1), ElectionTick: 6, HeartbeatTick: 2, Storage: n.ms,
				Applied: 1, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, CheckQuorum: true, PreVote: true, Logger: quiet{}})
		})
		if err != nil {
			return sbResult{}, err
		}
		n.applied = 1
		n.cs = cs
		n.stepFn = func() { _ = pbStep(n.rn, n.stepM) }
		n.tickFn = n.rn.Tick
		w.nodes[i] = n
		w.push(sim.Time(sbTick), bareTick, i, i, nil)
	}
	client := sim.NewRand(sim.StreamSeed(seed, "client"))
	seq := 0
	w.push(sim.Time(30*sim.Millisecond), bareClient, 0, 0, nil)
	w.push(sim.Time(sim.Second), bareChange, 0, 0, nil)
	w.runUntil(sim.Time(sbRun), client, &seq)
	for !w.chk.converged() && w.now < sim.Time(sbRun+sbDrain) {
		w.runUntil(w.now.Add(sbSlice), client, &seq)
	}
	sbLastBare = w
	return sbResult{w.events, w.chk.applied[0], w.chk.last[0]}, w.chk.final()
}

// sbLastBare is the last bare world run (for TestSideBySideWorkload's
// counts; tests that read it do not run in parallel).
var sbLastBare *bareWorld

// runUntil runs the bare loop's events through time t (and sets the clock
// to t, as World.RunUntil does).
func (w *bareWorld) runUntil(t sim.Time, client *sim.Rand, seq *int) {
	role := func(i int) (uint64, bool) { return w.nodes[i].term, w.nodes[i].leader }
	for len(w.q) > 0 && w.q[0].at <= t {
		e := w.q.pop()
		w.now = e.at
		w.events++
		switch e.kind {
		case bareDeliver:
			if w.cut[e.from][e.node] {
				continue
			}
			n := w.nodes[e.node]
			n.stepM = pbOwnMsg(e.msg)
			w.do(n, n.stepFn)
			n.stepM = nil
		case bareTick:
			n := w.nodes[e.node]
			w.do(n, n.tickFn)
			w.push(w.now.Add(sbTick), bareTick, int(e.node), int(e.node), nil)
		case bareClient:
			if w.now >= sim.Time(sbClientStop) {
				continue
			}
			*seq++
			best := sbLeader(role)
			if best < 0 {
				best = client.Intn(sbPeers)
			}
			n := w.nodes[best]
			cmd := []byte("c" + strconv.Itoa(*seq))
			w.do(n, func() { _ = n.rn.Propose(cmd) })
			ctx := sbReadCtx(*seq)
			w.do(n, func() { n.rn.ReadIndex(ctx) })
			w.push(w.now.Add(15*sim.Millisecond+client.Between(0, 30*sim.Millisecond)), bareClient, 0, 0, nil)
		case bareChange:
			w.second++
			if l := sbLeader(role); l >= 0 {
				for p := 0; p < sbPeers; p++ {
					if p != l {
						w.cut[l][p], w.cut[p][l] = true, true
					}
				}
				w.push(w.now.Add(sbIsolate), bareHeal, 0, 0, nil)
			}
			if w.now+sim.Time(sim.Second) < sim.Time(sbRun) {
				w.push(w.now.Add(sim.Second), bareChange, 0, 0, nil)
			}
		case bareHeal:
			w.cut = [sbPeers][sbPeers]bool{}
			if l := sbLeader(role); l >= 0 {
				if cc, ok := sbConfChange(w.second, l, w.nodes[l].cs, client); ok {
					n := w.nodes[l]
					w.do(n, func() { _ = n.rn.ProposeConfChange(cc) })
				}
			}
		}
	}
	w.now = t
}

// quiet is etcd raft's logger in the bare loop: it drops everything but
// panics.
type quiet struct{ logger }

func (quiet) Error(v ...any)                   {}
func (quiet) Errorf(format string, v ...any)   {}
func (quiet) Info(v ...any)                    {}
func (quiet) Infof(format string, v ...any)    {}
func (quiet) Warning(v ...any)                 {}
func (quiet) Warningf(format string, v ...any) {}

// TestSideBySideWorkload runs the side-by-side workload in both loops on a
// few seeds: both must pass their checks, and their event counts must be
// comparable (the same things counted). The bare loop draws from streams
// seeded as dsim seeds its own (sim.StreamSeed of "net", "node/e<i>",
// "client") in the same order, so today both run the very same history:
// same events, same final state. A kernel change that draws differently
// would make them differ; only comparability is required.
func TestSideBySideWorkload(t *testing.T) {
	var ed, eb uint64
	same, confs, reads := 0, 0, 0
	for seed := uint64(1); seed <= 16; seed++ {
		d, err := runOnDsim(seed)
		if err != nil {
			t.Errorf("dsim seed %d: %v", seed, err)
		}
		b, err := runBare(seed)
		if err != nil {
			t.Errorf("bare seed %d: %v", seed, err)
		}
		if d == b {
			same++
		}
		confs, reads = confs+sbLastBare.confs, reads+sbLastBare.reads
		t.Logf("seed %d: dsim %+v, bare heap %+v", seed, d, b)
		ed, eb = ed+d.events, eb+b.events
	}
	t.Logf("%d of 16 seeds ran the same history in both loops; %d conf changes applied by peer 0, %d ReadStates", same, confs, reads)
	if confs == 0 || reads == 0 {
		t.Errorf("the workload lacks membership changes (%d) or reads (%d)", confs, reads)
	}
	if r := float64(ed) / float64(eb); r < 0.8 || r > 1.25 {
		t.Errorf("event counts not comparable: %d on dsim, %d on the bare heap", ed, eb)
	}
}

// BenchmarkSideBySide runs the side-by-side workload (see the top of this
// file) on dsim's kernel ("dsim") and on the bare binary-heap loop
// ("bare-heap"), seeds cycling through 1..16, and reports events/s,
// ns/event and allocs/event for each. Run both in one process and compare
// their ratio, not absolute figures across runs:
//
//	go test ./etcdsim -run '^$' -bench SideBySide -benchtime 32x -count 3
func BenchmarkSideBySide(b *testing.B) {
	for _, loop := range []struct {
		name string
		run  func(uint64) (sbResult, error)
	}{{"dsim", runOnDsim}, {"bare-heap", runBare}} {
		b.Run(loop.name, func(b *testing.B) {
			var events uint64
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := loop.run(uint64(i%16) + 1)
				if err != nil {
					b.Fatalf("seed %d: %v", i%16+1, err)
				}
				events += res.events
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms1)
			ns := float64(b.Elapsed().Nanoseconds())
			b.ReportMetric(float64(events)/(ns/1e9), "events/s")
			b.ReportMetric(ns/float64(events), "ns/event")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(events), "allocs/event")
			b.ReportMetric(float64(events)/float64(b.N), "events/seed")
		})
	}
}

// runRaft runs dsim's own Raft on the same shape: the scenario
// raft/leader-churn, every checker on (raftcheck online and white-box, the
// scenario harness's metrics, the liveness phase).
func runRaft(seed uint64) (sbResult, error) {
	s, err := scenarios.Lookup("raft/leader-churn")
	if err != nil {
		return sbResult{}, err
	}
	res := scenarios.Run(s, nil, seed, scenarios.Config{})
	if !res.Passed {
		return sbResult{events: res.Events}, fmt.Errorf("%s: %+v", res.Repro, res.Failure)
	}
	return sbResult{events: res.Events}, nil
}

// BenchmarkSideBySideInterleaved runs each seed on the three loops in turn
// (in a rotating order) and times each run alone, so that all see the same machine load (the 2
// shared cores are noisy): etcd raft on dsim ("dsim"), etcd raft on the
// bare heap ("bare") and dsim's own Raft on the same shape with every
// checker on ("raft", the scenario raft/leader-churn). It reports each
// one's ns/event, events/s and allocs/event, and the ratios dsim/bare (goal:
// at most 1.5) and raft/bare (goal: at most 1, that is at least as many
// events per second as etcd raft on the bare heap).
//
//	go test ./etcdsim -run '^$' -bench SideBySideInterleaved -benchtime 64x -count 4
func BenchmarkSideBySideInterleaved(b *testing.B) {
	loops := []struct {
		name string
		run  func(uint64) (sbResult, error)
	}{{"dsim", runOnDsim}, {"bare", runBare}, {"raft", runRaft}}
	var t [3]time.Duration
	var ev, al [3]uint64
	var ms runtime.MemStats
	mallocs := func() uint64 { runtime.ReadMemStats(&ms); return ms.Mallocs }
	for i := 0; i < b.N; i++ {
		seed := uint64(i%16) + 1
		for j := range loops {
			// Rotate the order, so that no loop always pays for the
			// garbage of the same predecessor.
			k := (i + j) % len(loops)
			l := loops[k]
			m0 := mallocs()
			t0 := time.Now()
			res, err := l.run(seed)
			dt := time.Since(t0)
			m1 := mallocs()
			if err != nil {
				b.Fatalf("%s seed %d: %v", l.name, seed, err)
			}
			t[k], ev[k], al[k] = t[k]+dt, ev[k]+res.events, al[k]+m1-m0
		}
	}
	var ns [3]float64
	for k, l := range loops {
		ns[k] = float64(t[k].Nanoseconds()) / float64(ev[k])
		b.ReportMetric(ns[k], l.name+"-ns/event")
		b.ReportMetric(1e9/ns[k], l.name+"-events/s")
		b.ReportMetric(float64(al[k])/float64(ev[k]), l.name+"-allocs/event")
	}
	b.ReportMetric(ns[0]/ns[1], "dsim/bare")
	b.ReportMetric(ns[2]/ns[1], "raft/bare")
}

// BenchmarkRaftLeaderChurn runs dsim's own Raft alone on the side-by-side
// shape (raft/leader-churn, checkers on), seeds 1..16: for profiling.
func BenchmarkRaftLeaderChurn(b *testing.B) {
	var events uint64
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := runRaft(uint64(i%16) + 1)
		if err != nil {
			b.Fatal(err)
		}
		events += res.events
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	ns := float64(b.Elapsed().Nanoseconds())
	b.ReportMetric(float64(events)/(ns/1e9), "events/s")
	b.ReportMetric(ns/float64(events), "ns/event")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(events), "allocs/event")
	b.ReportMetric(float64(events)/float64(b.N), "events/seed")
}
