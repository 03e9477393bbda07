// Package mr registers the MapReduce scenarios (mr/...): the 6.5840 Lab 1
// tester's cases (wc, indexer, map and reduce parallelism, job count, early
// exit, crash) on virtual time, the same job under partitions, lossy
// networks, stragglers, late duplicated requests, file-system crashes and
// swarm faults, and two unsafe variants dsim must catch (no atomic rename,
// no re-issue).
//
// Every run has a shared file system node "fs" (a fault target in
// mr/fs-crash and mr/swarm, where it crashes and restarts with its synced
// files), a coordinator "coord" and workers "w0".."wN-1"; the inputs are
// eight texts drawn from the workload stream; nReduce is 10 like the lab's.
// Besides the output checks, every run checks online that a published file
// (mr-out-*, mr-X-Y) never changes, and reports how many tasks finished
// while a fault was active (maps_/reduces_/tasks_done_under_faults): the
// fault scenarios last long enough for both phases to run under faults.
//
// It may import sim, scenarios, nodes/mr and checkers/mrcheck.
package mr

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/smilingraft/dsim/checkers/mrcheck"
	"github.com/smilingraft/dsim/nodes/mr"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// spec describes one scenario's set-up.
type spec struct {
	name, desc string
	app        string // the application the workers run
	seq        string // the application of the sequential comparison ("": none)
	workers    int    // default mr.workers
	rename     bool   // default mr.atomic_rename
	reissue    bool   // default mr.reissue
	duration   sim.Duration
	liveness   sim.Duration
	kinds      *sim.Kinds
	faults     func(scenarios.Variant) sim.Faults
	crashLoop  bool // a killed worker is replaced 1s later while the job runs
	coordFault bool // the coordinator is a fault target too (first)
	fsFault    bool // the file system is a fault target too (first)
	fsOnly     bool // the file system is the only fault target
	calm       bool // a lab test with no faults: no task can finish under one
	stagger    bool // jobcount: workers 2.. start when worker 1 exits
	unsafe     bool
	check      func(c *scenarios.Cluster, lines []string) error
	// fsNode, when set, builds the file-system node instead of mr.FS
	// (tests plant a broken one); onChange feeds the published-file check.
	fsNode func(onChange func(string)) sim.Node
}

func params(s spec) []scenarios.Param {
	minWorkers := int64(1)
	if s.stagger {
		minWorkers = 3 // workers 2.. start when worker 1 exits
	}
	return []scenarios.Param{
		{Key: "mr.workers", Default: strconv.Itoa(s.workers), Doc: "number of worker processes (slots) running at once",
			Range: scenarios.Span(minWorkers, 64)},
		{Key: "mr.nreduce", Default: "10", Doc: "number of reduce tasks", Range: scenarios.Span(1, 1000)},
		{Key: "mr.reissue_timeout_ms", Default: "10000", Doc: "re-issue a task whose worker was silent this long (the lab needs > 5000)",
			Range: scenarios.Span(1, 3_600_000)},
		{Key: "mr.heartbeat_ms", Default: "1000", Doc: "workers report progress this often; 0: never, and tasks are re-issued after running mr.reissue_timeout_ms in all (the lab's rule)",
			Range: scenarios.Span(0, 3_600_000), BelowKey: "mr.reissue_timeout_ms"},
		{Key: "mr.atomic_rename", Default: strconv.FormatBool(s.rename), Doc: "publish outputs by temp file + rename (false: write in place, unsafe)"},
		{Key: "mr.reissue", Default: strconv.FormatBool(s.reissue), Doc: "re-issue tasks of silent workers (false: never, unsafe)"},
	}
}

// Words per generated input text.
const inputWords = 1500

func toCheck(app mr.App) (mrcheck.MapFunc, mrcheck.ReduceFunc) { return app.Map, app.Reduce }

// files returns every file of the FS disk.
func files(d *sim.Disk) []mrcheck.File {
	var out []mrcheck.File
	for _, n := range d.List() {
		b, _ := d.Read(n)
		out = append(out, mrcheck.File{Name: n, Data: b})
	}
	return out
}

func names(fs []mrcheck.File) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

func setup(s spec) func(c *scenarios.Cluster) error {
	return func(c *scenarios.Cluster) error {
		nw, nr, to := c.Int("mr.workers"), c.Int("mr.nreduce"), c.Int("mr.reissue_timeout_ms")
		if nw < 1 || nw > 64 {
			return fmt.Errorf("mr: mr.workers must be 1..64")
		}
		if s.stagger && nw < 3 {
			return fmt.Errorf("mr: this scenario needs mr.workers >= 3")
		}
		cfg := mr.DefaultConfig()
		cfg.NReduce = nr
		cfg.ReissueTimeout = sim.Duration(to) * sim.Millisecond
		cfg.Heartbeat = sim.Duration(c.Int("mr.heartbeat_ms")) * sim.Millisecond
		cfg.AtomicRename = c.Bool("mr.atomic_rename")
		cfg.Reissue = c.Bool("mr.reissue")
		if err := cfg.Validate(); err != nil {
			return err
		}
		apps := mr.Apps()
		app, ok := apps[s.app]
		if !ok {
			return fmt.Errorf("mr: unknown app %q", s.app)
		}
		w := c.W

		// Online: a published file never changes (checked on every change
		// and at every restart of the file system).
		published := &mrcheck.Published{Watch: func(name string) bool {
			return strings.HasPrefix(name, "mr-out") || isIntermediate(name)
		}}
		var fs sim.NodeID
		sawAll := func() error {
			d := w.Disk(fs)
			for _, n := range mergeNames(published.Names(), d.List()) {
				b, ok := d.Read(n)
				if err := published.Saw(n, b, ok); err != nil {
					return err
				}
			}
			return nil
		}
		saw := func(name string) {
			var err error
			if name == "" {
				err = sawAll()
			} else {
				b, ok := w.Disk(fs).Read(name)
				err = published.Saw(name, b, ok)
			}
			if err != nil {
				w.Fail("mr-published", "%v", err)
			}
		}
		newFS := s.fsNode
		if newFS == nil {
			newFS = func(onChange func(string)) sim.Node { return &mr.FS{OnChange: onChange} }
		}
		fs = w.AddNode("fs", func() sim.Node { return newFS(saw) })
		inputs := mr.GenerateInputs(c.Workload, inputWords)
		var inFiles []mrcheck.File
		var inNames []string
		for _, in := range inputs {
			w.Disk(fs).Write(in.Name, []byte(in.Contents))
			inFiles = append(inFiles, mrcheck.File{Name: in.Name, Data: []byte(in.Contents)})
			inNames = append(inNames, in.Name)
		}
		w.Disk(fs).Sync()

		var (
			finished   [2]int // tasks finished while a fault was active: maps, reduces
			superseded int    // tasks finished by the report of a superseded attempt
			done       bool
			doneAt     sim.Time
			firstExit  []string // output when the first process exited
			exitedOnce bool
			workers    []sim.NodeID
			launched   = !s.stagger
		)
		snapshot := func() {
			if !exitedOnce {
				exitedOnce = true
				firstExit = mrcheck.Output(files(w.Disk(fs)))
			}
		}
		// Online: a reduce task is handed out only when every map task's
		// intermediate files are all published.
		onIssue := func(t mr.Task) {
			if t.Kind != mr.TaskReduce {
				return
			}
			d := w.Disk(fs)
			for x := 0; x < len(inputs); x++ {
				for y := 0; y < nr; y++ {
					if _, ok := d.Read(fmt.Sprintf("mr-%d-%d", x, y)); !ok {
						w.Fail("mr-reduce-after-maps", "reduce %d handed out before map %d published mr-%d-%d", t.ID, x, x, y)
						return
					}
				}
			}
		}
		coord := w.AddNode("coord", func() sim.Node {
			return &mr.Coordinator{Files: inNames, Config: cfg, OnIssue: onIssue, OnFinish: func(k mr.Kind, _ int, old bool) {
				if old {
					superseded++
				}
				if w.FaultActive() {
					finished[min(int(k-mr.TaskMap), 1)]++
				}
			}, OnDone: func() {
				if !done {
					done, doneAt = true, w.Now()
				}
				snapshot() // the coordinator exits once done (the lab's, 1s later)
			}}
		})

		var addWorker func(i int)
		addWorker = func(i int) {
			var id sim.NodeID
			name := fmt.Sprintf("w%d", i)
			id = w.AddNode(name, func() sim.Node {
				return &mr.Worker{Coord: coord, FS: fs, App: app, Config: cfg,
					OnExit: func(string) {
						snapshot()
						if s.stagger && i == 1 && !launched {
							launched = true
							w.After(0, func() {
								for j := 2; j < nw; j++ {
									addWorker(j)
								}
							})
						}
					},
					OnKill: func() {
						w.At(w.Now(), func() {
							w.Crash(id)
							if s.crashLoop {
								w.After(sim.Second, func() {
									if !done {
										w.Restart(id)
									}
								})
							}
						})
					}}
			})
			workers = append(workers, id)
		}
		first := nw
		if s.stagger {
			first = 2
		}
		for i := 0; i < first; i++ {
			addWorker(i)
		}
		if s.fsFault || s.fsOnly {
			c.Servers(fs)
		}
		if s.coordFault {
			c.Servers(coord)
		}
		if !s.fsOnly {
			c.Servers(workers...)
		}

		c.Progress("mr-job", func() error {
			cn, ok := w.Node(coord).(*mr.Coordinator)
			if !ok {
				return fmt.Errorf("coordinator is down")
			}
			if !cn.Done() {
				return pendingErr{cn}
			}
			if !launched {
				return fmt.Errorf("later workers not started yet")
			}
			// Like test-mr.sh, wait for every worker process to exit.
			for _, id := range workers {
				if !w.Up(id) {
					continue
				}
				if wk, ok := w.Node(id).(*mr.Worker); ok {
					if ex, _ := wk.Exited(); !ex {
						return fmt.Errorf("job done but worker %s has not exited", w.Name(id))
					}
				}
			}
			return nil
		})
		c.Check("mr-published", sawAll) // a last look at every published file
		// The offline checks run once the job is over and the files are
		// final: read and sort the output once.
		var finalOut []string
		final := func() []string {
			if finalOut == nil {
				finalOut = mrcheck.Output(files(w.Disk(fs)))
			}
			return finalOut
		}
		c.Check("mr-files", func() error {
			return mrcheck.OutputFiles(names(files(w.Disk(fs))), nr)
		})
		c.Check("mr-keys-once", func() error {
			return mrcheck.KeysOnce(final())
		})
		c.Check("mr-early-exit", func() error {
			if !exitedOnce {
				return fmt.Errorf("no process ever exited")
			}
			return mrcheck.EarlyExit(firstExit, final())
		})
		if s.seq != "" {
			want := func() []string {
				mapf, reducef := toCheck(apps[s.seq])
				return mrcheck.Sequential(inFiles, mapf, reducef)
			}
			c.Check("mr-output", func() error {
				return mrcheck.Equal(final(), want())
			})
		}
		if s.check != nil {
			c.Check("mr-"+s.app, func() error { return s.check(c, final()) })
		}
		c.Check("mr-metrics", func() error {
			if cn, ok := w.Node(coord).(*mr.Coordinator); ok {
				m, r := cn.Issued()
				c.Metric("map_attempts", float64(m))
				c.Metric("reduce_attempts", float64(r))
			}
			c.Metric("job_done_s", float64(doneAt)/float64(sim.Second))
			c.Metric("job_completion_ns", float64(doneAt)) // virtual time from the start to the job done
			c.Metric("maps_done_under_faults", float64(finished[0]))
			c.Metric("reduces_done_under_faults", float64(finished[1]))
			c.Metric("tasks_done_under_faults", float64(finished[0]+finished[1]))
			c.Metric(scenarios.WorkUnderFaults, float64(finished[0]+finished[1]))
			c.Metric("superseded_reports_accepted", float64(superseded))
			return nil
		})
		return nil
	}
}

// isIntermediate reports whether name is a map output file, mr-<X>-<Y>.
// It is called on every change of the file system, so it does not allocate.
func isIntermediate(name string) bool {
	rest, ok := strings.CutPrefix(name, "mr-")
	if !ok {
		return false
	}
	x, y, ok := strings.Cut(rest, "-")
	return ok && digits(x) && digits(y)
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// mergeNames returns the sorted union of two sorted name lists.
func mergeNames(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}

// pendingErr is the liveness error of an unfinished job, formatted only
// when shown: the condition is polled every 10ms of virtual time.
type pendingErr struct{ cn *mr.Coordinator }

func (e pendingErr) Error() string { return mrcheck.Finished(false, e.cn.Pending()).Error() }

func lossyNet() sim.NetOptions {
	return sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 27 * sim.Millisecond,
		Loss: sim.R(1, 10), Dup: sim.R(1, 10), Reorder: sim.R(1, 2), Tail: sim.R(1, 10), TailMax: 2 * sim.Second}
}

func calm() sim.NetOptions {
	return sim.NetOptions{DelayMin: sim.Millisecond, DelayMax: 5 * sim.Millisecond}
}

// specs lists every MapReduce scenario's set-up.
func specs() []spec {
	lab := func(name, desc, app, seq string, workers int) spec {
		return spec{name: name, desc: desc, app: app, seq: seq, workers: workers, rename: true, reissue: true,
			liveness: 45 * sim.Second, calm: true}
	}
	all := sim.AllKinds()
	stragglers := func(scenarios.Variant) sim.Faults {
		return sim.Faults{Step: 200 * sim.Millisecond, Network: sim.NetworkFaults{Base: calm()},
			Process: sim.ProcessFaults{Pause: sim.R(1, 10), MaxDown: 2, CrashStability: 3 * sim.Second}}
	}
	crash := lab("mr/crash", "lab crash test: crash app, workers exit at random and are replaced 1s later; output equals nocrash's within 120s",
		"crash", "nocrash", 4)
	crash.liveness, crash.crashLoop, crash.calm = 120*sim.Second, true, false
	noReissue := crash
	noReissue.name = "mr/unsafe-no-reissue"
	noReissue.desc = "UNSAFE: no re-issue timeout; a task held by a crashed worker is never done (dsim must catch it)"
	noReissue.reissue, noReissue.unsafe = false, true
	fault := func(name, desc string, f func(scenarios.Variant) sim.Faults) spec {
		s := lab(name, desc, "wc", "wc", 4)
		s.duration, s.liveness, s.faults, s.calm = 20*sim.Second, 60*sim.Second, f, false
		return s
	}
	jobcount := lab("mr/job-count", "lab job count test: jobcount x4 (two later); each of the 8 maps runs exactly once",
		"jobcount", "", 4)
	jobcount.stagger = true
	jobcount.check = func(_ *scenarios.Cluster, lines []string) error { return mrcheck.JobCount(lines, len(mr.InputNames)) }
	mtiming := lab("mr/map-parallelism", "lab map parallelism test: mtiming x2; both workers run maps, some at once", "mtiming", "", 2)
	mtiming.check = func(c *scenarios.Cluster, lines []string) error {
		return mrcheck.MapParallelism(lines, c.Int("mr.workers"))
	}
	rtiming := lab("mr/reduce-parallelism", "lab reduce parallelism test: rtiming x2; reduces overlap", "rtiming", "", 2)
	rtiming.check = func(_ *scenarios.Cluster, lines []string) error { return mrcheck.ReduceParallelism(lines) }
	partition := fault("mr/partition", "wc under coordinator-worker partitions of every shape", func(scenarios.Variant) sim.Faults {
		return sim.Faults{Step: 200 * sim.Millisecond, Network: sim.NetworkFaults{Base: calm(), Partition: sim.R(1, 4),
			OneWay: true, PartitionStability: sim.Second}}
	})
	partition.coordFault = true
	swarm := fault("mr/swarm", "wc under swarm faults aimed at the workers and the file system (coordinator reliable): a random mix per seed", nil)
	swarm.faults, swarm.kinds, swarm.fsFault = nil, &all, true
	swarm.duration = 30 * sim.Second // long enough for the reduce phase too
	fsCrash := fault("mr/fs-crash", "wc while the file system crashes and restarts again and again (torn unsynced writes) on a network that loses and duplicates 1 message in 20: published files survive, lost temporary files are written again",
		func(scenarios.Variant) sim.Faults {
			base := calm()
			base.Loss, base.Dup = sim.R(1, 20), sim.R(1, 20)
			return sim.Faults{Step: 250 * sim.Millisecond, Network: sim.NetworkFaults{Base: base},
				Process: sim.ProcessFaults{Crash: sim.R(1, 4), MaxDown: 1, CrashStability: 300 * sim.Millisecond,
					CrashPoint: sim.R(1, 4), ShortDown: sim.R(1, 2)},
				Disk: sim.DiskFaults{Torn: sim.R(1, 2)}}
		})
	fsCrash.fsOnly = true
	lateDup := fault("mr/late-duplicates", "wc among stragglers (pauses past the re-issue timeout) on a network that duplicates a third of all messages and delays a quarter by up to 15s: late duplicated requests of superseded attempts",
		func(scenarios.Variant) sim.Faults {
			base := calm()
			base.DelayMax, base.Dup, base.Reorder, base.Tail, base.TailMax = 20*sim.Millisecond, sim.R(1, 3), sim.R(1, 1), sim.R(1, 4), 15*sim.Second
			return sim.Faults{Step: 200 * sim.Millisecond, Network: sim.NetworkFaults{Base: base},
				Process: sim.ProcessFaults{Pause: sim.R(1, 8), MaxDown: 2, CrashStability: 3 * sim.Second}}
		})
	lateDup.duration = 30 * sim.Second // long enough for the reduce phase too
	noRename := fault("mr/unsafe-no-rename", "UNSAFE: outputs written in place (no temp file + rename); duplicated, late and straggling writes truncate published files (dsim must catch it)",
		func(scenarios.Variant) sim.Faults {
			base := calm()
			base.Dup, base.Reorder, base.Tail, base.TailMax = sim.R(1, 5), sim.R(1, 1), sim.R(1, 3), 3*sim.Second
			return sim.Faults{Step: 200 * sim.Millisecond, Network: sim.NetworkFaults{Base: base},
				Process: sim.ProcessFaults{Pause: sim.R(1, 10), Crash: sim.R(1, 20), MaxDown: 2, CrashStability: 3 * sim.Second}}
		})
	noRename.rename, noRename.unsafe = false, true
	return []spec{
		lab("mr/wc", "lab wc test: wc x3 on a calm network; output equals the sequential run", "wc", "wc", 3),
		lab("mr/indexer", "lab indexer test: indexer x2; output equals the sequential run", "indexer", "indexer", 2),
		mtiming, rtiming, jobcount,
		lab("mr/early-exit", "lab early exit test: early_exit x3; the output at the first exit is final", "early_exit", "early_exit", 3),
		crash, partition,
		fault("mr/lossy", "wc on an unreliable network: 10% loss, 10% duplication, reordering, a 2s tail", func(scenarios.Variant) sim.Faults {
			return sim.Faults{Network: sim.NetworkFaults{Base: lossyNet()}}
		}),
		fault("mr/stragglers", "wc with slow workers: pauses of 3-12s, some past the re-issue timeout", stragglers),
		swarm, fsCrash, lateDup, noRename, noReissue,
	}
}

// scenario builds the Scenario of spec s.
func scenario(s spec) *scenarios.Scenario {
	return &scenarios.Scenario{
		Name: s.name, Description: s.desc, Params: params(s), Duration: s.duration, Liveness: s.liveness,
		Kinds: s.kinds, Faults: s.faults, Unsafe: s.unsafe, Setup: setup(s),
	}
}

func init() {
	for _, s := range specs() {
		if !strings.HasPrefix(s.name, "mr/") {
			panic("mr: bad scenario name " + s.name)
		}
		register(scenario(s))
	}
}
