package mr

import (
	"bytes"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"

	"github.com/smilingraft/dsim/sim"
)

// Worker asks the coordinator for tasks until told the job is done (or
// until MaxContactFailures consecutive requests go unanswered), runs each
// task's Map or Reduce calls with their effects, writes map output to
// mr-<map>-<reduce> partitioned by IHash(key) % nReduce and reduce output to
// mr-out-<reduce>, publishing each file by renaming a unique temporary file
// (unless Config.AtomicRename is off), and reports the attempt.
//
// One task at a time, as a chain of callbacks; within a task it keeps up to
// Config.Window FS requests in flight, retries each with a growing timeout,
// writes a file again if the FS lost it before the publishing rename, sends
// a heartbeat every Config.Heartbeat, and tells the coordinator when it
// gives a task up.
type Worker struct {
	Coord, FS sim.NodeID
	App       App
	Config    Config
	// OnExit, if set, runs when the worker exits on its own: the job is done
	// or the coordinator is gone.
	OnExit func(reason string)
	// OnKill, if set, runs when the application makes the process exit (the
	// crash app); the scenario crashes the node. The worker does nothing
	// more either way.
	OnKill func()

	env    *sim.Env
	pid    string
	seq    int
	tmp    int
	calls  int
	fails  int
	done   int
	exited bool
	killed bool
	reason string
}

// attempt is one task the worker runs. Once it is over (reported or given
// up) the callbacks still in flight for it do nothing, so a worker never
// runs two tasks at once.
type attempt struct {
	t    *Task
	over bool
}

// Start begins asking for tasks after a small random delay.
func (w *Worker) Start(env *sim.Env) {
	if err := w.Config.Validate(); err != nil {
		env.Fail("mr-config", "%v", err)
		return
	}
	w.env = env
	w.pid = env.Name() + "." + strconv.Itoa(env.Incarnation())
	w.seq = 1
	env.After(sim.Duration(env.Rand().Intn(50))*sim.Millisecond, w.ask)
}

// Receive ignores unsolicited messages: every answer comes through Call.
func (w *Worker) Receive(sim.NodeID, sim.Message) {}

// Exited reports whether the worker exited on its own, and why.
func (w *Worker) Exited() (bool, string) { return w.exited, w.reason }

// Killed reports whether the application made the worker exit.
func (w *Worker) Killed() bool { return w.killed }

// TasksDone counts the attempts this incarnation reported.
func (w *Worker) TasksDone() int { return w.done }

// Inspect returns the worker's state for a stopped run.
func (w *Worker) Inspect() any {
	return map[string]any{"pid": w.pid, "exited": w.exited, "killed": w.killed, "reason": w.reason, "tasks_done": w.done}
}

func (w *Worker) stopped() bool { return w.exited || w.killed || !w.env.Alive() }

// live reports whether work on attempt a should go on.
func (w *Worker) live(a *attempt) bool { return !a.over && !w.stopped() }

func (w *Worker) exit(reason string) {
	w.exited, w.reason = true, reason
	if w.OnExit != nil {
		w.OnExit(reason)
	}
}

func (w *Worker) kill() {
	w.killed = true
	w.env.Sometimes("mr: application made a worker exit")
	if w.OnKill != nil {
		w.OnKill()
	}
}

// ask requests a task. The request number only advances after an answer,
// so a retried request whose answer was lost gets the same task back.
func (w *Worker) ask() {
	if w.stopped() {
		return
	}
	live := func() bool { return !w.stopped() }
	w.call(w.Coord, &GetTask{Worker: w.pid, Host: w.env.Name(), Boot: w.env.Incarnation(), Seq: w.seq}, askCopies, live, func(m sim.Message, ok bool) {
		if !ok {
			w.fails++
			if w.fails >= w.Config.MaxContactFailures {
				w.exit("coordinator unreachable")
				return
			}
			w.env.After(w.Config.Poll, w.ask)
			return
		}
		w.fails = 0
		w.seq++
		t, _ := m.(*Task)
		if t == nil {
			w.env.Logf("worker: a %T answered GetTask", m)
			w.env.After(w.Config.Poll, w.ask)
			return
		}
		switch t.Kind {
		case TaskMap, TaskReduce:
			if t.NReduce < 1 || t.NMap < 1 || t.ID < 0 {
				w.env.Logf("worker: malformed task %+v", *t)
				w.env.After(w.Config.Poll, w.ask)
				return
			}
			a := &attempt{t: t}
			if w.Config.Heartbeat > 0 {
				w.env.After(w.Config.Heartbeat, func() { w.heartbeat(a) })
			}
			if t.Kind == TaskMap {
				w.runMap(a)
			} else {
				w.runReduce(a)
			}
		case TaskDone:
			w.exit("job done")
		default:
			w.env.After(w.Config.Poll, w.ask)
		}
	})
}

// heartbeat tells the coordinator the attempt is alive, every Heartbeat
// until it is over. One-way: a lost heartbeat is covered by the next.
func (w *Worker) heartbeat(a *attempt) {
	if !w.live(a) {
		return
	}
	w.env.Send(w.Coord, &Progress{Kind: a.t.Kind, ID: a.t.ID, Attempt: a.t.Attempt})
	w.env.After(w.Config.Heartbeat, func() { w.heartbeat(a) })
}

// abandon gives up the attempt (an FS request kept failing), tells the
// coordinator so that it can hand the task out again without waiting for
// the silence timeout, and asks for the next task.
func (w *Worker) abandon(a *attempt) {
	if !w.live(a) {
		return
	}
	a.over = true
	w.env.Sometimes("mr: worker abandoned a task")
	w.env.Send(w.Coord, &Progress{Kind: a.t.Kind, ID: a.t.ID, Attempt: a.t.Attempt, Abandoned: true})
	w.env.After(w.Config.Poll, w.ask)
}

// hedge is how long the n-th copy of a request waits for an answer before
// the next copy is sent: a fifth of RPCTimeout for the first hedgeFlat
// copies (a lost message is common, so the next copy goes soon), then
// doubling up to RPCTimeout (a peer that stays silent is down or cut off,
// and is not flooded).
func (w *Worker) hedge(n int) sim.Duration {
	d := max(w.Config.RPCTimeout/5, 1)
	for ; n > hedgeFlat && d < w.Config.RPCTimeout; n-- {
		d *= 2
	}
	return min(d, w.Config.RPCTimeout)
}

// hedgeFlat is how many copies of a request go out at the shortest
// interval.
const hedgeFlat = 4

// call sends body to node to and runs done once: with the first answer, or
// with ok=false once maxCopies copies have all gone unanswered. Every
// request a worker makes is idempotent (FS operations by their nature,
// GetTask by its sequence number, Report by the coordinator's first-wins
// rule), so it hedges rather than retries: when no answer came within
// hedge(n) it sends another copy while the earlier ones stay pending (each
// for 2*RPCTimeout), and whichever answer comes first wins. A message lost
// or caught in the network's long tail then costs one hedge delay, not a
// timeout, and a late answer to an earlier copy is still used. done does not
// run once live() is false.
func (w *Worker) call(to sim.NodeID, body sim.Message, maxCopies int, live func() bool, done func(sim.Message, bool)) {
	answered := false
	copies, pending := 0, 0
	var hedgeTimer sim.Timer
	var send func()
	send = func() {
		copies++
		pending++
		n := copies
		w.env.Call(to, body, 2*w.Config.RPCTimeout, func(m sim.Message, ok bool) {
			pending--
			if answered || !live() {
				return
			}
			if ok {
				answered = true
				w.env.Cancel(hedgeTimer)
				done(m, true)
				return
			}
			if pending > 0 || copies != n {
				return // a later copy may still answer
			}
			// Every copy timed out and no hedge is due: the peer is down
			// or cut off.
			w.env.Cancel(hedgeTimer)
			if copies >= maxCopies {
				answered = true
				done(nil, false)
				return
			}
			send()
		})
		if copies < maxCopies {
			hedgeTimer = w.env.After(w.hedge(n), func() {
				if !answered && copies == n && live() {
					send()
				}
			})
		}
	}
	send()
}

// fs sends one FS request for attempt a (hedged, up to FSRetries copies)
// and runs cb with the answer; when no copy is answered it abandons the
// attempt. cb runs only while the attempt goes on.
func (w *Worker) fs(a *attempt, req *FSReq, cb func(*FSReply)) {
	w.call(w.FS, req, w.Config.FSRetries, func() bool { return w.live(a) }, func(m sim.Message, ok bool) {
		r, _ := m.(*FSReply)
		if !ok || r == nil {
			if ok {
				w.env.Logf("worker: a %T answered an FS request", m)
			}
			w.abandon(a)
			return
		}
		cb(r)
	})
}

// batch sends reqs for attempt a with at most Window in flight, then runs
// then with the replies in request order.
func (w *Worker) batch(a *attempt, reqs []*FSReq, then func([]*FSReply)) {
	replies := make([]*FSReply, len(reqs))
	if len(reqs) == 0 {
		then(replies)
		return
	}
	next, left := 0, len(reqs)
	var launch func()
	launch = func() {
		i := next
		next++
		w.fs(a, reqs[i], func(r *FSReply) {
			replies[i] = r
			left--
			switch {
			case left == 0:
				then(replies)
			case next < len(reqs):
				launch()
			}
		})
	}
	for next < len(reqs) && next < w.Config.Window {
		launch()
	}
}

func (w *Worker) newCtx() *Ctx {
	c := &Ctx{Worker: w.pid, Start: w.env.Now(), Seq: w.calls, Rand: w.env.Rand()}
	w.calls++
	return c
}

// play carries out an effect's marker, count and delay, then runs then.
func (w *Worker) play(a *attempt, e Effect, c *Ctx, then func()) {
	steps := func() {
		after := func() {
			if !w.live(a) {
				return
			}
			if e.Remove && e.Marker != "" {
				w.fs(a, &FSReq{Op: OpDelete, Name: e.Marker}, func(*FSReply) { then() })
				return
			}
			then()
		}
		counted := func() {
			if e.Delay > 0 {
				w.env.After(e.Delay, after)
				return
			}
			after()
		}
		if e.Count != "" {
			w.fs(a, &FSReq{Op: OpList, Name: e.Count}, func(r *FSReply) {
				c.Count = len(r.Names)
				counted()
			})
			return
		}
		counted()
	}
	if e.Marker != "" {
		w.fs(a, &FSReq{Op: OpCreate, Name: e.Marker, Data: []byte("x")}, func(*FSReply) { steps() })
		return
	}
	steps()
}

func trivial(e Effect) bool { return e.Marker == "" && e.Count == "" && e.Delay <= 0 }

func (w *Worker) runMap(a *attempt) {
	t := a.t
	w.fs(a, &FSReq{Op: OpRead, Name: t.File}, func(r *FSReply) {
		if !r.OK {
			w.env.Logf("worker: input %q of map %d is missing", t.File, t.ID)
			w.abandon(a)
			return
		}
		contents := string(r.Data)
		c := w.newCtx()
		e := Effect{Delay: 500*sim.Millisecond + sim.Duration(w.env.Rand().Intn(2500))*sim.Millisecond}
		if w.App.Effect != nil {
			e = w.App.Effect(c, MapPhase, t.File)
		}
		if e.Exit {
			w.kill()
			return
		}
		w.play(a, e, c, func() {
			var kva []KeyValue
			if w.App.MapCtx != nil {
				kva = w.App.MapCtx(c, t.File, contents)
			} else {
				kva = w.App.Map(t.File, contents)
			}
			bufs := make([][]byte, t.NReduce)
			for _, kv := range kva {
				y := IHash(kv.Key) % t.NReduce
				b := append(bufs[y], kv.Key...)
				b = append(b, '\t')
				b = append(append(b, kv.Value...), '\n')
				bufs[y] = b
			}
			files := make([]outFile, t.NReduce)
			for y := range files {
				files[y] = outFile{name: "mr-" + strconv.Itoa(t.ID) + "-" + strconv.Itoa(y), data: bufs[y]}
			}
			w.publish(a, files, func() { w.finish(a) })
		})
	})
}

// intermediate reports whether name is mr-<X>-<reduce>.
func intermediate(name string, reduce int) bool {
	parts := strings.Split(name, "-")
	if len(parts) != 3 || parts[0] != "mr" {
		return false
	}
	_, err := strconv.Atoi(parts[1])
	y, err2 := strconv.Atoi(parts[2])
	return err == nil && err2 == nil && y == reduce
}

func (w *Worker) runReduce(a *attempt) {
	t := a.t
	w.fs(a, &FSReq{Op: OpList, Name: "mr-"}, func(r *FSReply) {
		var reads []*FSReq
		for _, n := range r.Names {
			if intermediate(n, t.ID) {
				reads = append(reads, &FSReq{Op: OpRead, Name: n})
			}
		}
		if len(reads) != t.NMap {
			// Every map has published all its files before reduces start;
			// anything else means the file system lost one.
			w.env.Fail("mr-intermediate", "reduce %d found %d intermediate files, want %d", t.ID, len(reads), t.NMap)
			return
		}
		w.batch(a, reads, func(rs []*FSReply) {
			n := 0
			for i, r := range rs {
				if !r.OK {
					w.env.Fail("mr-intermediate", "reduce %d: published intermediate file %s vanished", t.ID, reads[i].Name)
					return
				}
				n += bytes.Count(r.Data, []byte{'\n'})
			}
			kva := make([]KeyValue, 0, n)
			for _, r := range rs {
				for rest := string(r.Data); rest != ""; {
					var line string
					line, rest, _ = strings.Cut(rest, "\n")
					if k, v, ok := strings.Cut(line, "\t"); ok {
						kva = append(kva, KeyValue{k, v})
					}
				}
			}
			w.reduceAll(a, kva)
		})
	})
}

func (w *Worker) reduceAll(a *attempt, kva []KeyValue) {
	t := a.t
	// Order the pairs by key, ties in file order (a stable sort, done as
	// an ordinary sort of positions); each key's values are then one run
	// of a single slice.
	order := make([]int, len(kva))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := strings.Compare(kva[a].Key, kva[b].Key); c != 0 {
			return c
		}
		return a - b
	})
	values := make([]string, len(kva))
	for i, p := range order {
		values[i] = kva[p].Value
	}
	var keys []string
	groups := map[string][]string{}
	for i := 0; i < len(order); {
		k := kva[order[i]].Key
		j := i + 1
		for j < len(order) && kva[order[j]].Key == k {
			j++
		}
		keys = append(keys, k)
		groups[k] = values[i:j:j]
		i = j
	}
	var out []byte
	finish := func() {
		file := []outFile{{name: "mr-out-" + strconv.Itoa(t.ID), data: out}}
		if w.App.Effect != nil {
			w.publish(a, file, func() { w.finish(a) })
			return
		}
		// Default compute time of a reduce task.
		w.env.After(200*sim.Millisecond+sim.Duration(w.env.Rand().Intn(1000))*sim.Millisecond, func() {
			if w.live(a) {
				w.publish(a, file, func() { w.finish(a) })
			}
		})
	}
	var next func(i int)
	next = func(i int) {
		for ; i < len(keys); i++ {
			k := keys[i]
			c := w.newCtx()
			var e Effect
			if w.App.Effect != nil {
				e = w.App.Effect(c, ReducePhase, k)
			}
			if e.Exit {
				w.kill()
				return
			}
			emit := func() {
				var v string
				if w.App.ReduceCtx != nil {
					v = w.App.ReduceCtx(c, k, groups[k])
				} else {
					v = w.App.Reduce(k, groups[k])
				}
				out = append(out, k+" "+v+"\n"...)
			}
			if trivial(e) {
				emit()
				continue
			}
			w.play(a, e, c, func() {
				emit()
				next(i + 1)
			})
			return
		}
		finish()
	}
	next(0)
}

type outFile struct {
	name string
	data []byte
}

// publish makes files visible under their names, then runs then.
func (w *Worker) publish(a *attempt, files []outFile, then func()) {
	if !w.Config.AtomicRename {
		w.publishInPlace(a, files, 0, then)
		return
	}
	w.publishAtomic(a, files, 0, then)
}

// publishAtomic writes every file to a fresh temporary name (the chunks of
// all files pipelined), then renames each into place. A rename that finds
// its temporary file incomplete (the FS crashed and lost unsynced writes)
// sends that file round again under a new temporary name, at most Rewrites
// times. A target already published by another attempt is fine: the first
// attempt's output stands.
func (w *Worker) publishAtomic(a *attempt, files []outFile, round int, then func()) {
	chunk := w.Config.ChunkBytes
	var writes []*FSReq
	renames := make([]*FSReq, len(files))
	for i, f := range files {
		w.tmp++
		tmp := "mr-tmp-" + w.pid + "-" + strconv.Itoa(w.tmp)
		off := 0
		for {
			end := min(len(f.data), off+chunk)
			writes = append(writes, &FSReq{Op: OpWriteAt, Name: tmp, Off: off, Data: f.data[off:end]})
			if off = end; off >= len(f.data) {
				break
			}
		}
		renames[i] = &FSReq{Op: OpRename, Name: tmp, To: f.name, Off: len(f.data), Sum: crc32.ChecksumIEEE(f.data)}
	}
	w.batch(a, writes, func(rs []*FSReply) {
		for i, r := range rs {
			if !r.OK {
				w.env.Logf("worker: write %s refused", writes[i].Name)
				w.abandon(a)
				return
			}
		}
		w.batch(a, renames, func(rs []*FSReply) {
			var again []outFile
			for i, r := range rs {
				switch {
				case !r.OK:
					w.env.Logf("worker: rename %s -> %s refused", renames[i].Name, renames[i].To)
					w.abandon(a)
					return
				case r.Exists:
					w.env.Sometimes("mr: output already published by another attempt")
				case r.Missing:
					again = append(again, files[i])
				}
			}
			if len(again) == 0 {
				then()
				return
			}
			if round >= w.Config.Rewrites {
				w.abandon(a)
				return
			}
			w.env.Sometimes("mr: output written again after the FS lost it")
			w.publishAtomic(a, again, round+1, then)
		})
	})
}

// publishInPlace is the unsafe way: create (truncate) each final file with
// its first chunk, then write the rest at their offsets, one file and one
// request after another.
func (w *Worker) publishInPlace(a *attempt, files []outFile, i int, then func()) {
	if i == len(files) {
		then()
		return
	}
	f := files[i]
	first := f.data[:min(len(f.data), w.Config.ChunkBytes)]
	w.fs(a, &FSReq{Op: OpCreate, Name: f.name, Data: first}, func(*FSReply) {
		w.writeChunks(a, f.name, f.data, len(first), func() { w.publishInPlace(a, files, i+1, then) })
	})
}

// writeChunks writes data[off:] to name in ChunkBytes pieces at their
// offsets, one RPC each, then runs then.
func (w *Worker) writeChunks(a *attempt, name string, data []byte, off int, then func()) {
	if off >= len(data) {
		then()
		return
	}
	end := min(len(data), off+w.Config.ChunkBytes)
	w.fs(a, &FSReq{Op: OpWriteAt, Name: name, Off: off, Data: data[off:end]}, func(r *FSReply) {
		if !r.OK {
			w.abandon(a)
			return
		}
		w.writeChunks(a, name, data, end, then)
	})
}

// finish ends the attempt once its output is published: it reports it
// (a report never answered only costs a re-execution) and then asks for the
// next task either way.
func (w *Worker) finish(a *attempt) {
	if !w.live(a) {
		return
	}
	a.over = true
	w.report(a.t)
}

// askCopies and reportCopies bound the copies of one GetTask and one
// Report; an unanswered GetTask counts as one contact failure.
const (
	askCopies    = 3
	reportCopies = 8
)

func (w *Worker) report(t *Task) {
	live := func() bool { return !w.stopped() }
	w.call(w.Coord, &Report{Kind: t.Kind, ID: t.ID, Attempt: t.Attempt}, reportCopies, live, func(_ sim.Message, ok bool) {
		if ok {
			w.done++
		}
		w.ask()
	})
}
