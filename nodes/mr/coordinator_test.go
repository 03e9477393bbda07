package mr

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/smilingraft/dsim/sim"
)

// driver is a test node through which a test talks to the coordinator.
type driver struct{ env *sim.Env }

func (d *driver) Start(env *sim.Env)              { d.env = env }
func (d *driver) Receive(sim.NodeID, sim.Message) {}

// coordRig is a coordinator over three inputs and one reduce, and a driver.
type coordRig struct {
	t        *testing.T
	w        *sim.World
	c        *Coordinator
	coord    sim.NodeID
	d        *driver
	finished []string // "kind/id superseded" as OnFinish saw them
}

func newCoordRig(t *testing.T) *coordRig {
	r := &coordRig{t: t, w: sim.NewWorld(1, sim.Options{Net: sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: sim.Millisecond}})}
	cfg := DefaultConfig()
	cfg.NReduce = 1
	r.coord = r.w.AddNode("coord", func() sim.Node {
		r.c = &Coordinator{Files: []string{"a", "b", "c"}, Config: cfg, OnFinish: func(k Kind, id int, old bool) {
			s := "map"
			if k == TaskReduce {
				s = "reduce"
			}
			if old {
				s += " superseded"
			}
			r.finished = append(r.finished, s)
		}}
		return r.c
	})
	r.w.AddNode("driver", func() sim.Node { r.d = &driver{}; return r.d })
	r.w.RunUntil(sim.Time(sim.Millisecond))
	return r
}

// call makes one RPC to the coordinator and returns the answer.
func (r *coordRig) call(body sim.Message) sim.Message {
	r.t.Helper()
	var got sim.Message
	r.w.At(r.w.Now(), func() { r.d.env.Call(r.coord, body, sim.Second, func(m sim.Message, _ bool) { got = m }) })
	r.w.RunUntil(r.w.Now().Add(10 * sim.Millisecond))
	if got == nil {
		r.t.Fatalf("no answer to %+v", body)
	}
	return got
}

// task asks for a task and returns "kind id attempt".
func (r *coordRig) task(worker, host string, boot, seq int) Task {
	r.t.Helper()
	t, ok := r.call(&GetTask{Worker: worker, Host: host, Boot: boot, Seq: seq}).(*Task)
	if !ok {
		r.t.Fatalf("GetTask answered with something else")
	}
	return Task{Kind: t.Kind, ID: t.ID, Attempt: t.Attempt}
}

func (r *coordRig) send(m sim.Message) {
	r.w.At(r.w.Now(), func() { r.d.env.Send(r.coord, m) })
	r.w.RunUntil(r.w.Now().Add(10 * sim.Millisecond))
}

func wantTask(t *testing.T, step string, got Task, kind Kind, id, attempt int) {
	t.Helper()
	if diff := cmp.Diff(Task{Kind: kind, ID: id, Attempt: attempt}, got); diff != "" {
		t.Fatalf("%s (-want +got):\n%s", step, diff)
	}
}

// TestCoordinatorAttemptRules walks the coordinator through the rules that
// keep work going under faults: a late copy of an old GetTask gets no task;
// an abandoned task is handed out again at once; the first report of any
// attempt finishes the task and later ones change nothing; a reboot of a
// worker's host frees the tasks its earlier boot held; a report of an
// attempt never handed out is ignored.
func TestCoordinatorAttemptRules(t *testing.T) {
	r := newCoordRig(t)
	wantTask(t, "first ask", r.task("w0.1", "w0", 1, 1), TaskMap, 0, 1)
	wantTask(t, "second ask", r.task("w0.1", "w0", 1, 2), TaskMap, 1, 1)
	wantTask(t, "a duplicate of the second ask", r.task("w0.1", "w0", 1, 2), TaskMap, 1, 1)
	wantTask(t, "a late copy of the first ask", r.task("w0.1", "w0", 1, 1), TaskWait, 0, 0)
	wantTask(t, "another worker", r.task("w1.1", "w1", 1, 1), TaskMap, 2, 1)

	r.send(&Progress{Kind: TaskMap, ID: 2, Attempt: 1, Abandoned: true})
	wantTask(t, "after w1 abandoned map 2", r.task("w1.1", "w1", 1, 2), TaskMap, 2, 2)

	r.call(&Report{Kind: TaskMap, ID: 2, Attempt: 1}) // the abandoned attempt finished after all
	r.call(&Report{Kind: TaskMap, ID: 2, Attempt: 2})
	r.call(&Report{Kind: TaskMap, ID: 2, Attempt: 7}) // never handed out
	if diff := cmp.Diff([]string{"map superseded"}, r.finished); diff != "" {
		t.Fatalf("finished after the reports of map 2 (-want +got):\n%s", diff)
	}

	wantTask(t, "w0 rebooted", r.task("w0.2", "w0", 2, 1), TaskMap, 0, 2)
	wantTask(t, "a late first ask of w0's lost boot", r.task("w0.1", "w0", 1, 9), TaskWait, 0, 0)
	wantTask(t, "w0's other task is free too", r.task("w1.1", "w1", 1, 3), TaskMap, 1, 2)
	wantTask(t, "nothing left", r.task("w1.1", "w1", 1, 4), TaskWait, 0, 0)
	r.call(&Report{Kind: TaskMap, ID: 0, Attempt: 2})
	r.call(&Report{Kind: TaskMap, ID: 1, Attempt: 1}) // the lost boot's attempt: its output is whole
	wantTask(t, "reduce after every map", r.task("w1.1", "w1", 1, 5), TaskReduce, 0, 1)
	r.call(&Report{Kind: TaskReduce, ID: 0, Attempt: 1})
	if !r.c.Done() {
		t.Fatalf("not done; pending %v", r.c.Pending())
	}
	wantTask(t, "after the job", r.task("w1.1", "w1", 1, 6), TaskDone, 0, 0)
	if diff := cmp.Diff([]string{"map superseded", "map", "map superseded", "reduce"}, r.finished); diff != "" {
		t.Fatalf("finished (-want +got):\n%s", diff)
	}
}

// TestCoordinatorReissuesOnSilence: a task whose worker keeps sending
// heartbeats is not re-issued however long it runs; one whose worker falls
// silent is, after ReissueTimeout; with Heartbeat 0 running time alone
// counts (the lab's rule).
func TestCoordinatorReissuesOnSilence(t *testing.T) {
	r := newCoordRig(t)
	wantTask(t, "map 0", r.task("w0.1", "w0", 1, 1), TaskMap, 0, 1)
	wantTask(t, "map 1", r.task("w1.1", "w1", 1, 1), TaskMap, 1, 1)
	wantTask(t, "map 2", r.task("w2.1", "w2", 1, 1), TaskMap, 2, 1)
	for i := 0; i < 25; i++ { // 25 s of heartbeats for map 0 only
		r.send(&Progress{Kind: TaskMap, ID: 0, Attempt: 1})
		r.w.RunUntil(r.w.Now().Add(sim.Second))
	}
	// Maps 1 and 2 were re-issued; map 0 was not.
	got := []Task{r.task("w3.1", "w3", 1, 1), r.task("w3.1", "w3", 1, 2), r.task("w3.1", "w3", 1, 3)}
	want := []Task{{Kind: TaskMap, ID: 1, Attempt: 2}, {Kind: TaskMap, ID: 2, Attempt: 2}, {Kind: TaskWait}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("after 25 s (-want +got):\n%s", diff)
	}

	cfg := DefaultConfig()
	cfg.Heartbeat = 0
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.Heartbeat = cfg.ReissueTimeout
	if cfg.Validate() == nil {
		t.Fatalf("a heartbeat as long as the re-issue timeout was accepted")
	}
}

// TestCoordinatorIgnoresBadInput: unknown tasks, kinds and message types are
// logged and dropped, never a panic or a state change.
func TestCoordinatorIgnoresBadInput(t *testing.T) {
	r := newCoordRig(t)
	r.send(&Progress{Kind: TaskMap, ID: 99, Attempt: 1, Abandoned: true})
	r.send(&Progress{Kind: Kind(42), ID: 0})
	r.call(&Report{Kind: TaskReduce, ID: -1, Attempt: 1})
	r.call(&Report{Kind: TaskMap, ID: 0, Attempt: 0})
	r.send(&FSReq{Op: OpRead})
	if diff := cmp.Diff([]string{"m0", "m1", "m2", "r0"}, r.c.Pending()); diff != "" {
		t.Fatalf("pending after bad input (-want +got):\n%s", diff)
	}
}

// TestEachWordMatchesWords: the allocation-free word iterator the apps use
// splits exactly like Words (maximal runs of Unicode letters).
func TestEachWordMatchesWords(t *testing.T) {
	for _, s := range []string{"", "a", " a b ", "Hello, wörld -- 42 it's ÉtÉ", "x\ny\tz.", "日本語 text", "trailing"} {
		var got []string
		eachWord(s, func(w string) { got = append(got, w) })
		if diff := cmp.Diff(Words(s), got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%q (-Words +eachWord):\n%s", s, diff)
		}
	}
}
