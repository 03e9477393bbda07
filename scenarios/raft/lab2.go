package raft

import (
	"bytes"

	"github.com/smilingraft/dsim/checkers/raftcheck"
	"github.com/smilingraft/dsim/scenarios/script"
	"github.com/smilingraft/dsim/sim"
)

// concurrentStarts is ConcurrentStarts3B: up to 5 tries, 3 s apart, of
// Start(1) plus 5 Starts at once, all of which must commit on every server
// unless the term changes (then the try is redone).
func concurrentStarts(d *drv) {
	for try := 0; try < 5; try++ {
		if try > 0 {
			d.sleep(3 * sim.Second)
		}
		if d.concurrentStartsOnce() {
			return
		}
	}
	d.fail(raftcheck.Liveness, "term changed too often")
}

// concurrentStartsOnce is one try of ConcurrentStarts3B; false means the
// term changed and the try must be redone.
func (d *drv) concurrentStartsOnce() bool {
	leader := d.checkOneLeader()
	_, term, ok := d.start(leader, num(1))
	if !ok {
		return false
	}
	var idx []uint64
	var cmds [][]byte
	for ii := 0; ii < 5; ii++ {
		cmd := num(100 + ii)
		if i, t1, ok := d.start(leader, cmd); ok && t1 == term {
			idx = append(idx, i)
			cmds = append(cmds, cmd)
		}
	}
	for j := 0; j < d.n; j++ {
		if tj, _ := d.state(j); tj != term {
			return false
		}
	}
	var got [][]byte
	for _, i := range idx {
		cmd, ok := d.waitIdx(i, d.n, term)
		if !ok {
			return false
		}
		got = append(got, cmd)
	}
	for _, c := range cmds {
		found := false
		for _, g := range got {
			found = found || bytes.Equal(g, c)
		}
		if !found {
			d.fail("raft.agreement", "command %s missing from %d committed entries", show(c), len(got))
		}
	}
	return true
}

// backup is Backup3B.
func backup(d *drv) {
	ones := func(n, expected int) {
		for i := 0; i < n; i++ {
			d.oneRnd(expected)
		}
	}
	starts := func(on int) {
		for i := 0; i < 50; i++ {
			d.start(on, d.rnd())
		}
	}
	d.oneRnd(d.n)
	l1 := d.checkOneLeader()
	// Put leader and one follower in a partition.
	d.disconnect((l1 + 2) % d.n)
	d.disconnect((l1 + 3) % d.n)
	d.disconnect((l1 + 4) % d.n)
	starts(l1)
	d.sleep(electionTimeout / 2)
	d.disconnect(l1)
	d.disconnect((l1 + 1) % d.n)
	d.connect((l1 + 2) % d.n)
	d.connect((l1 + 3) % d.n)
	d.connect((l1 + 4) % d.n)
	d.label("50 with the new group")
	ones(50, 3)
	l2 := d.checkOneLeader()
	other := (l1 + 2) % d.n
	if l2 == other {
		other = (l2 + 1) % d.n
	}
	d.disconnect(other)
	starts(l2)
	d.sleep(electionTimeout / 2)
	for i := 0; i < d.n; i++ {
		d.disconnect(i)
	}
	d.connect(l1)
	d.connect((l1 + 1) % d.n)
	d.connect(other)
	d.label("50 with the old leader back")
	ones(50, 3)
	d.connectAll()
	d.label("final agreement")
	ones(1, d.n)
}

// count is Count3B, with bounds doubled: a message-passing Raft sends a
// request and a reply where the lab counts one RPC.
func count(d *drv) {
	d.checkOneLeader()
	total1 := d.rpcs()
	d.c.Metric("election_msgs", float64(total1))
	if total1 > 2*30 || total1 < 1 {
		d.fail("raft.rpc-count", "too many or few messages (%d) to elect the initial leader", total1)
	}
	var total2 uint64
	agreed := false
	for try := 0; try < 5 && !agreed; try++ {
		if try > 0 {
			d.sleep(3 * sim.Second)
		}
		total2, agreed = d.countAgreement()
	}
	if !agreed {
		d.fail(raftcheck.Liveness, "term changed too often")
	}
	d.sleep(electionTimeout)
	total3 := d.rpcs()
	d.c.Metric("idle_msgs_per_s", float64(total3-total2))
	if total3-total2 > 2*3*20 {
		d.fail("raft.rpc-count", "too many messages (%d) for 1 second of idleness", total3-total2)
	}
}

// countAgreement is one try of Count3B's agreement budget: 11 entries
// committed in one term within the message bound. It returns the message
// count after them, false if the term changed.
func (d *drv) countAgreement() (uint64, bool) {
	leader := d.checkOneLeader()
	total1 := d.rpcs()
	const iters = 10
	starti, term, ok := d.start(leader, num(1))
	if !ok {
		return 0, false
	}
	var cmds [][]byte
	for i := 1; i < iters+2; i++ {
		x := d.rnd()
		cmds = append(cmds, x)
		index1, term1, ok := d.start(leader, x)
		if term1 != term || !ok {
			return 0, false
		}
		if starti+uint64(i) != index1 {
			d.fail("raft.start", "Start() returned index %d, want %d", index1, starti+uint64(i))
		}
	}
	for i := 1; i <= iters; i++ {
		cmd, ok := d.waitIdx(starti+uint64(i), d.n, term)
		if !ok {
			return 0, false
		}
		if !bytes.Equal(cmd, cmds[i-1]) {
			d.fail("raft.agreement", "wrong value %s committed for index %d; expected %s", show(cmd), starti+uint64(i), show(cmds[i-1]))
		}
	}
	for j := 0; j < d.n; j++ {
		if tj, _ := d.state(j); tj != term {
			return 0, false
		}
	}
	total2 := d.rpcs()
	d.c.Metric("agreement_msgs", float64(total2-total1))
	if total2-total1 > 2*(iters+1+3)*3 {
		d.fail("raft.rpc-count", "too many messages (%d) for %d entries", total2-total1, iters)
	}
	return total2, true
}

// persist1 is Persist13C.
func persist1(d *drv) {
	d.oneN(11, d.n, true)
	d.crashAll()
	d.oneN(12, d.n, true)
	l1 := d.checkOneLeader()
	d.restart(l1)
	d.connect(l1)
	d.oneN(13, d.n, true)
	l2 := d.checkOneLeader()
	d.crash(l2)
	d.oneN(14, d.n-1, true)
	d.restart(l2)
	d.connect(l2)
	d.waitIdx(4, d.n, 0)
	i3 := (d.checkOneLeader() + 1) % d.n
	d.crash(i3)
	d.oneN(15, d.n-1, true)
	d.restart(i3)
	d.connect(i3)
	d.oneN(16, d.n, true)
}

// persist2 is Persist23C.
func persist2(d *drv) {
	index := 1
	next := func(expected int) {
		d.oneN(10+index, expected, true)
		index++
	}
	for round := 0; round < 5; round++ {
		next(d.n)
		l := d.checkOneLeader()
		at := func(k int) int { return (l + k) % d.n }
		d.disconnect(at(1))
		d.disconnect(at(2))
		next(d.n - 2)
		d.disconnect(at(0))
		d.disconnect(at(3))
		d.disconnect(at(4))
		d.restart(at(1))
		d.restart(at(2))
		d.connect(at(1))
		d.connect(at(2))
		d.sleep(electionTimeout)
		d.restart(at(3))
		d.connect(at(3))
		next(d.n - 2)
		d.connect(at(4))
		d.connect(at(0))
	}
	d.oneN(1000, d.n, true)
}

// figure8 is Figure83C (crashes) or, unreliable, Figure8Unreliable3C
// (disconnects, and long reordering from iteration 200).
func figure8(d *drv, unreliableNet bool) {
	r := d.c.Workload
	cmd := func() []byte { return num(r.Intn(10000)) }
	nup := d.n
	d.one(cmd(), 1, true)
	for iter := 0; iter < 1000; iter++ {
		if unreliableNet && iter == 200 {
			d.longReorder = true
		}
		leader := -1
		for i := 0; i < d.n; i++ {
			if _, _, ok := d.start(i, cmd()); ok && (unreliableNet || d.up(i)) {
				leader = i
			}
		}
		if r.Intn(1000) < 100 {
			d.sleep(sim.Duration(r.Intn(500)) * sim.Millisecond)
		} else {
			d.sleep(sim.Duration(r.Intn(13)) * sim.Millisecond)
		}
		if unreliableNet {
			if leader != -1 && d.conn[leader] && r.Intn(1000) < 500 {
				d.disconnect(leader)
				nup--
			}
			if nup < 3 {
				if s := r.Intn(d.n); !d.conn[s] {
					d.connect(s)
					nup++
				}
			}
		} else {
			if leader != -1 {
				d.crash(leader)
				nup--
			}
			if nup < 3 {
				if s := r.Intn(d.n); !d.w.Up(d.ids[s]) {
					d.restart(s)
					d.connect(s)
					nup++
				}
			}
		}
	}
	for i := 0; i < d.n; i++ {
		if !d.w.Up(d.ids[i]) {
			d.restart(i)
		}
		d.connect(i)
	}
	d.label("final agreement")
	d.one(cmd(), d.n, true)
}

// churn is ReliableChurn3C / UnreliableChurn3C: three clients Start while
// the nemesis crashes, restarts and disconnects servers; every command a
// client saw committed must be in the final log.
func churn(d *drv, unreliableNet bool) {
	r := d.c.Workload
	stop := false
	values := make([][][]byte, 3)
	client := func(me int) func(*script.S) {
		return func(s *script.S) {
			c := &drv{d.harness, s}
			for !stop {
				x := c.rnd()
				index, ok := uint64(0), false
				for i := 0; i < c.n; i++ {
					if i1, _, ok1 := c.start(i, x); ok1 {
						index, ok = i1, true
					}
				}
				if !ok {
					c.sleep(sim.Duration(79+me*17) * sim.Millisecond)
					continue
				}
				for _, to := range []sim.Duration{10, 20, 50, 100, 200} {
					if nd, cmd := c.nCommitted(index); nd > 0 {
						if bytes.Equal(cmd, x) {
							values[me] = append(values[me], x)
						}
						break
					}
					c.sleep(to * sim.Millisecond)
				}
			}
		}
	}
	nemesis := func(s *script.S) {
		c := &drv{d.harness, s}
		for i := 0; i < 20; i++ {
			if r.Intn(1000) < 200 {
				c.disconnect(r.Intn(c.n))
			}
			if r.Intn(1000) < 500 {
				i := r.Intn(c.n)
				if !c.w.Up(c.ids[i]) {
					c.restart(i)
				}
				c.connect(i)
			}
			if r.Intn(1000) < 200 {
				if i := r.Intn(c.n); c.w.Up(c.ids[i]) {
					c.crash(i)
				}
			}
			c.sleep(7 * electionTimeout / 10)
		}
		c.sleep(electionTimeout)
		c.w.SetNet(reliable)
		for i := 0; i < c.n; i++ {
			if !c.w.Up(c.ids[i]) {
				c.restart(i)
			}
			c.connect(i)
		}
		stop = true
	}
	start := d.w.Now()
	d.s.Par(client(0), client(1), client(2), nemesis)
	if d.w.Now().Sub(start) > 20*7*electionTimeout/10+electionTimeout+5*sim.Second {
		d.fail(raftcheck.Liveness, "churn clients did not stop within 5s")
	}
	last := d.oneRnd(d.n)
	var really [][]byte
	for i := uint64(1); i <= last; i++ {
		cmd, _ := d.waitIdx(i, d.n, 0)
		really = append(really, cmd)
	}
	for me, vs := range values {
		for _, v := range vs {
			found := false
			for _, x := range really {
				found = found || bytes.Equal(x, v)
			}
			if !found {
				d.fail("raft.committed-never-lost", "client %d saw %s committed but it is not in the final log", me, show(v))
			}
		}
	}
}

// snapCommon is the 3D snapshot tests: 30 rounds of bursts of Starts,
// optionally disconnecting or crashing a victim around each burst; the raft
// state must stay under 2000 bytes.
func snapCommon(d *drv, disconnect, crash bool) {
	d.oneRnd(d.n)
	l1 := d.checkOneLeader()
	for i := 0; i < 30; i++ {
		victim, sender := (l1+1)%d.n, l1
		if i%3 == 1 {
			sender, victim = (l1+1)%d.n, l1
		}
		if disconnect {
			d.disconnect(victim)
		}
		if crash {
			d.crash(victim)
		}
		if disconnect || crash {
			d.oneRnd(d.n - 1)
		}
		nn := 5 + d.c.Workload.Intn(10)
		for j := 0; j < nn; j++ {
			d.start(sender, d.rnd())
		}
		if !disconnect && !crash {
			d.oneRnd(d.n)
		} else {
			d.oneRnd(d.n - 1)
		}
		size := 0
		for j := 0; j < d.n; j++ {
			if r := d.rf(j); r != nil && r.PersistSize() > size {
				size = r.PersistSize()
			}
		}
		if size > d.maxState {
			d.maxState = size
			d.c.Metric("max_state_bytes", float64(size))
		}
		if size >= 2000 {
			d.fail("raft.state-size", "raft state is %d bytes, want < 2000 (snapshots must trim the log)", size)
		}
		if disconnect || crash {
			if crash {
				d.restart(victim)
			}
			d.connect(victim)
			d.oneRnd(d.n)
			l1 = d.checkOneLeader()
		}
	}
}
