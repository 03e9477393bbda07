package sim

import (
	"encoding/json"
	"reflect"
	"testing"
)

// rec is a test node that records what it receives and fires.
type rec struct {
	env   *Env
	got   []string
	at    []Time
	start func(*rec)
}

func (r *rec) Start(env *Env) {
	r.env = env
	if r.start != nil {
		r.start(r)
	}
}

func (r *rec) Receive(from NodeID, msg Message) {
	if req, ok := msg.(*Request); ok {
		r.env.Reply(from, req, "re:"+req.Body.(string))
		return
	}
	r.got = append(r.got, msg.(string))
	r.at = append(r.at, r.env.w.Now())
}

// pair builds a world with two recording nodes a and b.
func pair(t *testing.T, o Options) (*World, *rec, *rec) {
	t.Helper()
	w := NewWorld(1, o)
	a, b := &rec{}, &rec{}
	w.AddNode("a", func() Node { return a })
	w.AddNode("b", func() Node { return b })
	return w, a, b
}

func TestOneWayCutDeliversOneDirectionOnly(t *testing.T) {
	w, a, b := pair(t, Options{})
	w.Cut(1, 0) // b -> a cut
	a.env.Send(1, "a->b")
	b.env.Send(0, "b->a")
	w.RunFor(Second)
	if !reflect.DeepEqual(b.got, []string{"a->b"}) || len(a.got) != 0 {
		t.Fatalf("a got %v, b got %v; want only a->b delivered", a.got, b.got)
	}
	w.Connect(1, 0)
	b.env.Send(0, "b->a")
	w.RunFor(Second)
	if len(a.got) != 1 {
		t.Fatalf("after Connect a got %v", a.got)
	}
}

func TestPartitionCutsInFlightAndHeals(t *testing.T) {
	w, a, b := pair(t, Options{Net: NetOptions{DelayMin: 10 * Millisecond, DelayMax: 10 * Millisecond}})
	a.env.Send(1, "in-flight")
	w.RunFor(Millisecond)
	w.Partition([][]NodeID{{0}, {1}})
	w.RunFor(Second)
	if len(b.got) != 0 {
		t.Fatalf("message in flight across a new partition was delivered: %v", b.got)
	}
	w.Heal()
	a.env.Send(1, "after-heal")
	w.RunFor(Second)
	if !reflect.DeepEqual(b.got, []string{"after-heal"}) {
		t.Fatalf("b got %v after heal", b.got)
	}
}

func TestIsolateAndFlakyLink(t *testing.T) {
	w, a, b := pair(t, Options{})
	w.Isolate(0, []NodeID{0, 1})
	a.env.Send(1, "x")
	w.RunFor(Second)
	if len(b.got) != 0 {
		t.Fatal("isolated node's message delivered")
	}
	w.Heal()
	w.Flaky(0, 1, R(1, 2))
	for i := 0; i < 1000; i++ {
		a.env.Send(1, "f")
	}
	w.RunFor(Second)
	if n := len(b.got); n < 400 || n > 600 {
		t.Fatalf("flaky link at 1/2 loss delivered %d of 1000", n)
	}
}

func TestDuplicatedMessageArrivesTwice(t *testing.T) {
	w, a, b := pair(t, Options{Net: NetOptions{Dup: R(1, 1)}})
	a.env.Send(1, "dup")
	w.RunFor(Second)
	if !reflect.DeepEqual(b.got, []string{"dup", "dup"}) {
		t.Fatalf("b got %v, want the message twice", b.got)
	}
	if w.Stats().Duplicated != 1 {
		t.Fatalf("stats %+v", w.Stats())
	}
}

func TestLossDropsAtItsRatio(t *testing.T) {
	w, a, b := pair(t, Options{Net: NetOptions{Loss: R(1, 10)}})
	for i := 0; i < 10000; i++ {
		a.env.Send(1, "m")
	}
	w.RunFor(Second)
	if n := len(b.got); n < 8800 || n > 9200 {
		t.Fatalf("loss 1/10 delivered %d of 10000", n)
	}
}

func TestDelayBoundsTailAndFIFO(t *testing.T) {
	w, a, b := pair(t, Options{Net: NetOptions{DelayMin: 5 * Millisecond, DelayMax: 20 * Millisecond}})
	for i := 0; i < 200; i++ {
		a.env.Send(1, string(rune('A'+i%26)))
	}
	w.RunFor(Second)
	for i, at := range b.at {
		if at < Time(5*Millisecond) {
			t.Fatalf("message %d delivered at %v, before the minimum delay", i, at)
		}
		if i > 0 && at < b.at[i-1] {
			t.Fatal("FIFO link delivered out of order")
		}
		if b.got[i] != string(rune('A'+i%26)) {
			t.Fatalf("FIFO link reordered: position %d has %q", i, b.got[i])
		}
	}
	// With reordering allowed and a long tail, order changes and some
	// messages take far longer than DelayMax.
	w, a, b = pair(t, Options{Net: NetOptions{DelayMin: 1 * Millisecond, DelayMax: 2 * Millisecond,
		Reorder: R(1, 1), Tail: R(1, 5), TailMax: 2 * Second}})
	for i := 0; i < 200; i++ {
		a.env.Send(1, string(rune('A'+i%26)))
	}
	w.RunFor(5 * Second)
	reordered, late := false, 0
	for i := range b.got {
		if b.got[i] != string(rune('A'+i%26)) {
			reordered = true
		}
		if b.at[i] > Time(100*Millisecond) {
			late++
		}
	}
	if !reordered || late < 10 {
		t.Fatalf("reorder+tail: reordered=%v late=%d", reordered, late)
	}
}

func TestClogDelaysANodesMessages(t *testing.T) {
	w, a, b := pair(t, Options{Net: NetOptions{DelayMin: Millisecond, DelayMax: Millisecond}})
	w.Clog(1, 300*Millisecond, Second)
	a.env.Send(1, "slow")
	w.RunFor(2 * Second)
	if len(b.at) != 1 || b.at[0] < Time(300*Millisecond) {
		t.Fatalf("clogged delivery at %v", b.at)
	}
	w.RunFor(Second) // clog over
	t0 := w.Now()
	a.env.Send(1, "fast")
	w.RunFor(Second)
	if b.at[1]-t0 > Time(10*Millisecond) {
		t.Fatalf("after the clog ended delivery took %v", b.at[1]-t0)
	}
}

func TestCrashKeepsSyncedLosesUnsynced(t *testing.T) {
	w, a, _ := pair(t, Options{})
	d := a.env.Disk()
	d.Write("synced", []byte("s"))
	d.Sync()
	d.Write("unsynced", []byte("u"))
	d.Append("synced", []byte("+more"))
	if got, _ := d.Read("synced"); string(got) != "s+more" {
		t.Fatalf("reads must see unsynced writes, got %q", got)
	}
	w.Crash(0)
	if got, _ := d.Read("synced"); string(got) != "s" {
		t.Fatalf("after crash synced file = %q, want %q", got, "s")
	}
	if _, ok := d.Read("unsynced"); ok {
		t.Fatal("unsynced file survived a crash")
	}
}

func TestTornCrashKeepsAPrefix(t *testing.T) {
	// Over many seeds a torn crash keeps every possible prefix length, and
	// never anything but a prefix.
	seen := map[int]bool{}
	for seed := uint64(0); seed < 200; seed++ {
		w := NewWorld(seed, Options{Disk: DiskOptions{Torn: R(1, 1)}})
		n := &rec{}
		w.AddNode("n", func() Node { return n })
		d := n.env.Disk()
		d.Append("log", []byte("aaaa"))
		d.Sync()
		d.Append("log", []byte("bbbb"))
		d.Append("log", []byte("cccc"))
		w.Crash(0)
		got, _ := d.Read("log")
		full := "aaaabbbbcccc"
		if len(got) < 4 || string(got) != full[:len(got)] {
			t.Fatalf("seed %d: torn crash left %q, not a prefix of %q", seed, got, full)
		}
		seen[len(got)] = true
	}
	for _, l := range []int{4, 6, 8, 10, 12} {
		if !seen[l] {
			t.Errorf("torn crashes never kept %d bytes (saw %v)", l, seen)
		}
	}
}

func TestWipeAndCorrupt(t *testing.T) {
	w, a, _ := pair(t, Options{})
	d := a.env.Disk()
	d.Write("f", []byte{0, 0, 0, 0})
	d.Sync()
	if !w.Corrupt(0) {
		t.Fatal("corrupt found nothing to flip")
	}
	got, _ := d.Read("f")
	ones := 0
	for _, b := range got {
		for ; b != 0; b &= b - 1 {
			ones++
		}
	}
	if ones != 1 {
		t.Fatalf("corrupt flipped %d bits, want 1: %v", ones, got)
	}
	w.Wipe(0)
	if w.Up(0) || len(d.List()) != 0 {
		t.Fatal("wipe must crash the node and empty its disk")
	}
	w.Restart(0)
	if len(d.List()) != 0 {
		t.Fatal("wiped disk came back")
	}
}

func TestRenameIsAtomicAcrossCrash(t *testing.T) {
	w, a, _ := pair(t, Options{})
	d := a.env.Disk()
	d.Write("tmp", []byte("new"))
	d.Sync()
	d.Rename("tmp", "final")
	w.Crash(0)
	if _, ok := d.Read("final"); ok {
		t.Fatal("unsynced rename survived")
	}
	if got, _ := d.Read("tmp"); string(got) != "new" {
		t.Fatalf("tmp = %q", got)
	}
	w.Restart(0)
	d.Rename("tmp", "final")
	d.Sync()
	w.Crash(0)
	if got, _ := d.Read("final"); string(got) != "new" {
		t.Fatalf("synced rename lost: %q", got)
	}
}

func TestPausedNodeTimersFireLateAndMessagesWait(t *testing.T) {
	w, a, b := pair(t, Options{})
	var fired Time = -1
	b.env.After(100*Millisecond, func() { fired = w.Now() })
	w.Pause(1)
	a.env.Send(1, "held")
	w.RunFor(500 * Millisecond)
	if fired != -1 || len(b.got) != 0 {
		t.Fatal("paused node ran a timer or received a message")
	}
	w.Resume(1)
	w.RunFor(Millisecond)
	if fired != Time(500*Millisecond) || len(b.got) != 1 {
		t.Fatalf("after resume: timer at %v (want 500ms), got %v", fired, b.got)
	}
}

func TestCrashDropsTimersAndRestartRebuilds(t *testing.T) {
	w := NewWorld(1, Options{})
	starts, fired := 0, 0
	w.AddNode("n", func() Node {
		return &rec{start: func(r *rec) {
			starts++
			r.env.After(100*Millisecond, func() { fired++ })
		}}
	})
	w.RunFor(50 * Millisecond)
	w.Crash(0)
	w.RunFor(Second)
	if fired != 0 {
		t.Fatal("a crashed node's timer fired")
	}
	w.Restart(0)
	w.RunFor(Second)
	if starts != 2 || fired != 1 {
		t.Fatalf("starts=%d fired=%d, want 2 and 1", starts, fired)
	}
}

func TestRPCReplyTimeoutAndStaleIncarnation(t *testing.T) {
	w, a, b := pair(t, Options{Net: NetOptions{DelayMin: 10 * Millisecond, DelayMax: 10 * Millisecond}})
	var got []string
	a.env.Call(1, "ping", time100, func(r Message, ok bool) { got = append(got, fmtReply(r, ok)) })
	w.RunFor(Second)
	w.Partition([][]NodeID{{0}, {1}})
	a.env.Call(1, "lost", time100, func(r Message, ok bool) { got = append(got, fmtReply(r, ok)) })
	w.RunFor(Second)
	if !reflect.DeepEqual(got, []string{"re:ping", "timeout"}) {
		t.Fatalf("got %v", got)
	}
	// A reply that reaches a restarted caller is dropped: the callback of
	// the dead incarnation never runs.
	w.Heal()
	called := false
	a.env.Call(1, "x", Second, func(Message, bool) { called = true })
	w.RunFor(15 * Millisecond) // request delivered, reply in flight
	w.Crash(0)
	w.Restart(0)
	w.RunFor(2 * Second)
	if called {
		t.Fatal("callback of a crashed incarnation ran")
	}
	_ = b
}

const time100 = 100 * Millisecond

func fmtReply(r Message, ok bool) string {
	if !ok {
		return "timeout"
	}
	return r.(string)
}

func TestClockDriftAndJump(t *testing.T) {
	w := NewWorld(1, Options{})
	n := &rec{}
	w.AddNode("n", func() Node { return n })
	w.SetDrift(0, 1_000_000/2) // local clock runs 1.5x fast
	var at Time
	n.env.After(150*Millisecond, func() { at = w.Now() })
	w.RunFor(Second)
	if at != Time(100*Millisecond) {
		t.Fatalf("with +50%% drift a 150ms timer fired at %v, want 100ms", at)
	}
	if got := n.env.Now(); got != Time(1500*Millisecond) {
		t.Fatalf("local clock %v, want 1.5s", got)
	}
	w.SetDrift(0, 0)
	fired := false
	n.env.After(time100*10, func() { fired = true })
	w.Jump(0, 2*Second) // jump past the deadline: fires at once
	w.RunFor(Millisecond)
	if !fired {
		t.Fatal("forward clock jump did not fire an overdue timer")
	}
	late := Time(-1)
	start := w.Now()
	n.env.After(100*Millisecond, func() { late = w.Now() })
	w.Jump(0, -200*Millisecond) // backwards: the timer waits 300ms of true time
	w.RunFor(Second)
	if late-start != Time(300*Millisecond) {
		t.Fatalf("after a -200ms jump a 100ms timer took %v", late-start)
	}
}

func TestCancelTimer(t *testing.T) {
	w := NewWorld(1, Options{})
	n := &rec{}
	w.AddNode("n", func() Node { return n })
	fired := false
	tm := n.env.After(10*Millisecond, func() { fired = true })
	if !n.env.Cancel(tm) || n.env.Cancel(tm) {
		t.Fatal("Cancel must succeed once")
	}
	w.RunFor(Second)
	if fired {
		t.Fatal("cancelled timer fired")
	}
}

func TestPanicInNodeIsAFailure(t *testing.T) {
	w, a, _ := pair(t, Options{})
	a.env.After(Millisecond, func() { panic("boom") })
	if w.RunFor(Second) {
		t.Fatal("run with a panicking node reported ok")
	}
	f := w.Failure()
	if f == nil || f.Checker != "panic" || f.Stack == "" {
		t.Fatalf("failure %+v", f)
	}
}

func TestEventBudgetEndsEndlessLoops(t *testing.T) {
	w := NewWorld(1, Options{MaxEvents: 1000})
	var loop func()
	w.AddNode("n", func() Node {
		return &rec{start: func(r *rec) {
			loop = func() { r.env.After(0, loop) }
			loop()
		}}
	})
	w.RunFor(Second)
	if f := w.Failure(); f == nil || f.Checker != "budget" {
		t.Fatalf("failure %+v, want budget", f)
	}
}

// leaderNode claims leadership for the Roler-based targeting test.
type leaderNode struct {
	rec
	term   uint64
	leader bool
}

func (l *leaderNode) Role() (uint64, bool) { return l.term, l.leader }

func TestPlanTargetsLeaderAndRefRestartsIt(t *testing.T) {
	w := NewWorld(1, Options{})
	var ids []NodeID
	for i := 0; i < 3; i++ {
		i := i
		ids = append(ids, w.AddNode(string(rune('a'+i)), func() Node {
			return &leaderNode{term: uint64(i), leader: i >= 1}
		}))
	}
	plan := Plan{
		{ID: 1, At: 100 * Millisecond, Kind: ActCrash, Leader: true},
		{At: 200 * Millisecond, Kind: ActRestart, Ref: 1},
	}
	w.Schedule(plan, ids)
	w.RunFor(150 * Millisecond)
	if w.Up(2) || !w.Up(1) {
		t.Fatal("crash-leader must crash the highest-term leader (node c)")
	}
	w.RunFor(Second)
	if !w.Up(2) {
		t.Fatal("restart by ref did not restart node c")
	}
}

func TestPlanJSONRoundTripAndValidate(t *testing.T) {
	f := Swarm(NewRand(3), AllKinds())
	f.Network.Partition = R(1, 2)
	f.Process.Crash = R(1, 4)
	f.Network.Base.Loss = R(1, 10)
	plan := GeneratePlan(42, f, 5, 10*Second)
	if len(plan) < 10 {
		t.Fatalf("plan too small: %d actions", len(plan))
	}
	b, err := MarshalPlan(plan)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plan, back) {
		t.Fatal("plan changed in a JSON round trip")
	}
	if err := plan.Validate(5); err != nil {
		t.Fatal(err)
	}
	if err := (Plan{{Kind: "explode"}}).Validate(5); err == nil {
		t.Fatal("unknown kind accepted")
	}
	if err := (Plan{{Kind: ActCrash, Node: 7}}).Validate(5); err == nil {
		t.Fatal("out-of-range node accepted")
	}
	if !reflect.DeepEqual(GeneratePlan(42, f, 5, 10*Second), plan) {
		t.Fatal("GeneratePlan is not deterministic")
	}
}

func TestGeneratedFaultsEndBeforeThePhaseEnds(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		f := Swarm(NewRand(seed), AllKinds())
		f.Process.Crash, f.Process.Pause, f.Network.Partition = R(1, 3), R(1, 3), R(1, 3)
		plan := GeneratePlan(seed, f, 5, 5*Second)
		started := map[int]bool{}
		for _, a := range plan {
			if a.At >= 5*Second {
				t.Fatalf("seed %d: action after the phase: %v", seed, a)
			}
			if a.ID != 0 {
				started[a.ID] = true
			}
			if a.Ref != 0 && a.Kind != ActCorrupt {
				delete(started, a.Ref)
			}
		}
		if len(started) != 0 {
			t.Fatalf("seed %d: faults never undone: %v", seed, started)
		}
	}
}

func TestSwarmEnablesDifferentSubsets(t *testing.T) {
	seen := map[Faults]bool{}
	crashOn := 0
	for seed := uint64(0); seed < 64; seed++ {
		f := Swarm(NewRand(seed), AllKinds())
		seen[f] = true
		if !f.Process.Crash.Zero() {
			crashOn++
		}
	}
	if len(seen) < 60 || crashOn < 16 || crashOn > 48 {
		t.Fatalf("swarm: %d distinct of 64, crash enabled in %d", len(seen), crashOn)
	}
	if f := Swarm(NewRand(1), Kinds{}); f.Process.Crash.Zero() == false || !f.Network.Partition.Zero() {
		t.Fatal("swarm enabled a kind the scenario does not allow")
	}
}

func TestRandGolden(t *testing.T) {
	// These values pin the generator: if they change, every stored seed and
	// failure file means something else.
	r := NewRand(7)
	got := []uint64{r.Uint64(), r.Uint64(), r.Uint64()}
	want := goldenRand7
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Rand(7) = %#v, want %#v", got, want)
	}
	if StreamSeed(7, "net") == StreamSeed(7, "disk") || StreamSeed(7, "net") == StreamSeed(8, "net") {
		t.Fatal("streams collide")
	}
	for i := 0; i < 10000; i++ {
		if v := r.Intn(7); v < 0 || v >= 7 {
			t.Fatal("Intn out of range")
		}
		if d := r.Between(-5, 5); d < -5 || d > 5 {
			t.Fatal("Between out of range")
		}
	}
}

var goldenRand7 = []uint64{0xb358faf74ef9765a, 0x475c3d964f482cd2, 0xd6f1d349952c7996}

func TestUnsyncedAppendsKeepTheirBytes(t *testing.T) {
	// An append's unsynced op shares its bytes with the file (no copy): the
	// caller reusing its buffer, later appends growing the file in place,
	// and a Write replacing it must not change what a crash would keep.
	w, a, _ := pair(t, Options{})
	d := a.env.Disk()
	buf := []byte("one")
	d.Append("log", buf) // Grow leaves room: the next appends grow the file in place
	copy(buf, "XXX")
	d.Append("log", []byte("two"))
	d.Append("log", []byte("three"))
	d.Write("log", []byte("new"))
	var got []string
	for _, op := range d.Unsynced() {
		if op.Kind == OpAppend {
			got = append(got, string(op.Data))
		}
	}
	if want := []string{"one", "two", "three"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("unsynced appends = %q, want %q", got, want)
	}
	if f, _ := d.Read("log"); string(f) != "new" {
		t.Fatalf("file = %q after Write, want %q", f, "new")
	}
	w.Crash(0)
	if _, ok := d.Read("log"); ok {
		t.Fatal("an unsynced file survived a crash")
	}
}
