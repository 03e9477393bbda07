package mr

import (
	"hash/crc32"
	"sort"
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
// Everything is a chain of callbacks: one task at a time, no concurrency.
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
	w.env.Call(w.Coord, &GetTask{Worker: w.pid, Seq: w.seq}, w.Config.RPCTimeout, func(m sim.Message, ok bool) {
		if w.stopped() {
			return
		}
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
			w.env.After(w.Config.Poll, w.ask)
			return
		}
		switch t.Kind {
		case TaskMap:
			w.runMap(t)
		case TaskReduce:
			w.runReduce(t)
		case TaskDone:
			w.exit("job done")
		default:
			w.env.After(w.Config.Poll, w.ask)
		}
	})
}

// abandon gives up the current task (an FS request kept failing); the
// coordinator re-issues it after its timeout.
func (w *Worker) abandon() {
	w.env.Sometimes("mr: worker abandoned a task")
	w.env.After(w.Config.Poll, w.ask)
}

// fs sends one FS request, retrying on timeout up to FSRetries times; on
// giving up it abandons the task.
func (w *Worker) fs(req *FSReq, cb func(*FSReply)) {
	var try func(n int)
	try = func(n int) {
		w.env.Call(w.FS, req, w.Config.RPCTimeout, func(m sim.Message, ok bool) {
			if w.stopped() {
				return
			}
			if !ok {
				if n+1 >= w.Config.FSRetries {
					w.abandon()
					return
				}
				w.env.After(50*sim.Millisecond, func() { try(n + 1) })
				return
			}
			cb(m.(*FSReply))
		})
	}
	try(0)
}

func (w *Worker) newCtx() *Ctx {
	c := &Ctx{Worker: w.pid, Start: w.env.Now(), Seq: w.calls, Rand: w.env.Rand()}
	w.calls++
	return c
}

// play carries out an effect's marker, count and delay, then runs then.
func (w *Worker) play(e Effect, c *Ctx, then func()) {
	steps := func() {
		after := func() {
			if w.stopped() {
				return
			}
			if e.Remove && e.Marker != "" {
				w.fs(&FSReq{Op: OpDelete, Name: e.Marker}, func(*FSReply) { then() })
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
			w.fs(&FSReq{Op: OpList, Name: e.Count}, func(r *FSReply) {
				c.Count = len(r.Names)
				counted()
			})
			return
		}
		counted()
	}
	if e.Marker != "" {
		w.fs(&FSReq{Op: OpCreate, Name: e.Marker, Data: []byte("x")}, func(*FSReply) { steps() })
		return
	}
	steps()
}

func trivial(e Effect) bool { return e.Marker == "" && e.Count == "" && e.Delay <= 0 }

func (w *Worker) runMap(t *Task) {
	w.fs(&FSReq{Op: OpRead, Name: t.File}, func(r *FSReply) {
		if !r.OK {
			w.abandon()
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
		w.play(e, c, func() {
			var kva []KeyValue
			if w.App.MapCtx != nil {
				kva = w.App.MapCtx(c, t.File, contents)
			} else {
				kva = w.App.Map(t.File, contents)
			}
			bufs := make([][]byte, t.NReduce)
			for _, kv := range kva {
				y := IHash(kv.Key) % t.NReduce
				bufs[y] = append(bufs[y], kv.Key+"\t"+kv.Value+"\n"...)
			}
			files := make([]outFile, t.NReduce)
			for y := range files {
				files[y] = outFile{name: "mr-" + strconv.Itoa(t.ID) + "-" + strconv.Itoa(y), data: bufs[y]}
			}
			w.publish(files, 0, func() { w.report(t, 0) })
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

func (w *Worker) runReduce(t *Task) {
	w.fs(&FSReq{Op: OpList, Name: "mr-"}, func(r *FSReply) {
		var names []string
		for _, n := range r.Names {
			if intermediate(n, t.ID) {
				names = append(names, n)
			}
		}
		if len(names) != t.NMap {
			// Every map has published all its files before reduces start;
			// anything else means the file system lost one.
			w.env.Fail("mr-intermediate", "reduce %d found %d intermediate files, want %d", t.ID, len(names), t.NMap)
			return
		}
		var kva []KeyValue
		var read func(i int)
		read = func(i int) {
			if i == len(names) {
				w.reduceAll(t, kva)
				return
			}
			w.fs(&FSReq{Op: OpRead, Name: names[i]}, func(r *FSReply) {
				for _, line := range strings.Split(string(r.Data), "\n") {
					if k, v, ok := strings.Cut(line, "\t"); ok {
						kva = append(kva, KeyValue{k, v})
					}
				}
				read(i + 1)
			})
		}
		read(0)
	})
}

func (w *Worker) reduceAll(t *Task, kva []KeyValue) {
	// Group values by key in file order and visit keys sorted: a stable
	// sort of the pairs without moving them.
	var keys []string
	groups := map[string][]string{}
	for _, kv := range kva {
		if _, ok := groups[kv.Key]; !ok {
			keys = append(keys, kv.Key)
		}
		groups[kv.Key] = append(groups[kv.Key], kv.Value)
	}
	sort.Strings(keys)
	var out []byte
	finish := func() {
		file := []outFile{{name: "mr-out-" + strconv.Itoa(t.ID), data: out}}
		if w.App.Effect != nil {
			w.publish(file, 0, func() { w.report(t, 0) })
			return
		}
		// Default compute time of a reduce task.
		w.env.After(200*sim.Millisecond+sim.Duration(w.env.Rand().Intn(1000))*sim.Millisecond, func() {
			if !w.stopped() {
				w.publish(file, 0, func() { w.report(t, 0) })
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
			w.play(e, c, func() {
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

// publish writes files[i:] one after the other, then runs then.
func (w *Worker) publish(files []outFile, i int, then func()) {
	if i == len(files) {
		then()
		return
	}
	f := files[i]
	next := func() { w.publish(files, i+1, then) }
	if !w.Config.AtomicRename {
		// In place: create (truncate) the final file with the first chunk,
		// then write the rest at their offsets.
		first := f.data
		if len(first) > w.Config.ChunkBytes {
			first = first[:w.Config.ChunkBytes]
		}
		w.fs(&FSReq{Op: OpCreate, Name: f.name, Data: first}, func(*FSReply) {
			w.writeChunks(f.name, f.data, len(first), next)
		})
		return
	}
	w.tmp++
	tmp := "mr-tmp-" + w.pid + "-" + strconv.Itoa(w.tmp)
	w.fs(&FSReq{Op: OpWriteAt, Name: tmp, Off: 0, Data: f.data[:min(len(f.data), w.Config.ChunkBytes)]}, func(r *FSReply) {
		if !r.OK {
			w.abandon()
			return
		}
		w.writeChunks(tmp, f.data, min(len(f.data), w.Config.ChunkBytes), func() {
			// Missing means an earlier copy of this request already renamed
			// the complete file (its reply was lost): done either way.
			w.fs(&FSReq{Op: OpRename, Name: tmp, To: f.name, Off: len(f.data), Sum: crc32.ChecksumIEEE(f.data)},
				func(*FSReply) { next() })
		})
	})
}

// writeChunks writes data[off:] to name in ChunkBytes pieces at their
// offsets, one RPC each, then runs then.
func (w *Worker) writeChunks(name string, data []byte, off int, then func()) {
	if off >= len(data) {
		then()
		return
	}
	end := min(len(data), off+w.Config.ChunkBytes)
	w.fs(&FSReq{Op: OpWriteAt, Name: name, Off: off, Data: data[off:end]}, func(r *FSReply) {
		if !r.OK {
			w.abandon()
			return
		}
		w.writeChunks(name, data, end, then)
	})
}

// report tells the coordinator the attempt is published, retrying a few
// times; then asks for the next task either way.
func (w *Worker) report(t *Task, n int) {
	w.env.Call(w.Coord, &Report{Kind: t.Kind, ID: t.ID, Attempt: t.Attempt}, w.Config.RPCTimeout, func(_ sim.Message, ok bool) {
		if w.stopped() {
			return
		}
		if !ok && n < 5 {
			w.env.After(50*sim.Millisecond, func() { w.report(t, n+1) })
			return
		}
		if ok {
			w.done++
		}
		w.ask()
	})
}
