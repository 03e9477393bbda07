package mr

import (
	"fmt"

	"github.com/smilingraft/dsim/sim"
)

// Config holds the knobs coordinator and workers share. The zero value is
// not usable; start from DefaultConfig.
type Config struct {
	// NReduce is the number of reduce tasks (the lab: 10).
	NReduce int
	// Reissue enables re-issuing tasks whose worker fell silent (false is
	// the unsafe variant: a crashed worker's task is never done).
	Reissue bool
	// ReissueTimeout is how long a task's worker may stay silent before the
	// task is re-issued: silent since its last Progress when Heartbeat is
	// on, since the task was handed out when it is off (the lab's rule, which
	// needs more than 5 s for jobcount and little enough to finish in time).
	ReissueTimeout sim.Duration
	// Heartbeat is how often a worker tells the coordinator it is still
	// working on its task (0: never, and tasks are re-issued on total
	// running time). A worker that is slow but alive, say because every
	// third message is lost, then keeps its task instead of being
	// duplicated by a re-issue it can never outrun.
	Heartbeat sim.Duration
	// AtomicRename publishes every output by writing a unique temporary file
	// and renaming it (false is the unsafe variant: outputs are created and
	// written in place, so readers can see them partial or truncated).
	AtomicRename bool
	// ChunkBytes is the size of one write RPC: a crash between chunks leaves
	// a partial file.
	ChunkBytes int
	// Window is how many FS requests of one task a worker keeps in flight
	// at once (writes are idempotent, so they need no order): one lost
	// message then delays a task by one retry, not the sum of all retries.
	Window int
	// RPCTimeout scales a worker's RPCs: each copy of a request waits up to
	// twice that, and unanswered requests are hedged with a new copy after a
	// fifth of it, later after up to all of it (see Worker), so a lost
	// message costs little and a down peer is not flooded.
	RPCTimeout sim.Duration
	// Poll is how long a worker waits before asking again when told to wait
	// or when the coordinator did not answer.
	Poll sim.Duration
	// MaxContactFailures is how many consecutive unanswered requests make a
	// worker conclude the coordinator is gone and exit.
	MaxContactFailures int
	// FSRetries bounds the retries of one FS request before the worker
	// abandons its task (it tells the coordinator, which re-issues it).
	FSRetries int
	// Rewrites bounds how often a worker writes one output file again after
	// its publishing rename found it incomplete (the FS crashed and lost the
	// unsynced writes) before it abandons the task.
	Rewrites int
}

// DefaultConfig is the lab's set-up: nReduce 10, re-issue after 10 s of
// silence with a heartbeat every second, atomic renames, 1 KiB writes
// sixteen at a time.
func DefaultConfig() Config {
	return Config{NReduce: 10, Reissue: true, ReissueTimeout: 10 * sim.Second, Heartbeat: sim.Second,
		AtomicRename: true, ChunkBytes: 1024, Window: 16, RPCTimeout: sim.Second, Poll: 500 * sim.Millisecond,
		MaxContactFailures: 30, FSRetries: 20, Rewrites: 3}
}

// Validate rejects nonsense.
func (c Config) Validate() error {
	switch {
	case c.NReduce < 1 || c.NReduce > 1000:
		return fmt.Errorf("mr: nReduce %d out of range 1..1000", c.NReduce)
	case c.ReissueTimeout <= 0:
		return fmt.Errorf("mr: re-issue timeout must be positive")
	case c.Heartbeat < 0 || c.Heartbeat >= c.ReissueTimeout:
		return fmt.Errorf("mr: heartbeat %v must be 0 (off) or below the re-issue timeout %v", c.Heartbeat, c.ReissueTimeout)
	case c.ChunkBytes < 1 || c.Window < 1 || c.RPCTimeout <= 0 || c.Poll <= 0 || c.MaxContactFailures < 1 ||
		c.FSRetries < 1 || c.Rewrites < 0:
		return fmt.Errorf("mr: chunk size, window, timeouts and retry limits must be positive")
	}
	return nil
}

// Kind is a task kind in the coordinator's answers.
type Kind uint8

// Task kinds.
const (
	// TaskWait: no task now, ask again later.
	TaskWait Kind = iota + 1
	TaskMap
	TaskReduce
	// TaskDone: the job is done, exit.
	TaskDone
)

// GetTask asks the coordinator for a task. Seq numbers a worker
// incarnation's requests so that a duplicated request gets the same answer
// instead of a second task, and a late copy of an older request gets no
// task at all.
//
// Host and Boot name the worker's machine and its boot count: a request from
// a later boot of the same host tells the coordinator that the tasks the
// earlier boot held are lost, so it hands them out again at once instead of
// waiting for the silence timeout (like a MapReduce master that sees a
// worker machine re-register).
type GetTask struct {
	Worker string
	Host   string
	Boot   int
	Seq    int
}

// Size is the request's encoded size.
func (g *GetTask) Size() int { return 16 + len(g.Worker) + len(g.Host) }

// Task is the coordinator's answer to GetTask.
type Task struct {
	Kind    Kind
	ID      int
	Attempt int
	File    string
	NMap    int
	NReduce int
}

// Size is the task's encoded size.
func (t *Task) Size() int { return 24 + len(t.File) }

// Report tells the coordinator an attempt finished and published its
// output (every file renamed into place, or found already published by
// another attempt).
type Report struct {
	Kind    Kind
	ID      int
	Attempt int
}

// Size is the report's encoded size.
func (*Report) Size() int { return 16 }

// Progress is a one-way message from a worker about its current attempt:
// still working (a heartbeat, every Config.Heartbeat), or Abandoned (it gave
// up, so the coordinator may hand the task out again at once).
type Progress struct {
	Kind      Kind
	ID        int
	Attempt   int
	Abandoned bool
}

// Size is the message's encoded size.
func (*Progress) Size() int { return 17 }

// ReportAck acknowledges a Report.
type ReportAck struct{}

// Size is the ack's encoded size.
func (ReportAck) Size() int { return 1 }

type taskStatus uint8

const (
	idle taskStatus = iota
	running
	finished
)

type taskState struct {
	status  taskStatus
	attempt int
	// heard is when the current attempt was handed out or last reported
	// progress.
	heard sim.Time
	// host and boot name the machine running the current attempt.
	host string
	boot int
}

// Coordinator hands out the map tasks (one per input file), then, only
// after every map finished, the reduce tasks; re-issues a task whose worker
// has been silent for ReissueTimeout or gave it up (if Reissue); and is done
// when every reduce reported. Like Google's MapReduce master it accepts the
// first completed report of a task from any attempt, superseded or not: an
// attempt reports only once its outputs are published whole by atomic
// renames that never replace a published file, so any attempt's report
// means the task's output is in place. (Rejecting superseded reports makes
// a job under a lossy network, where an attempt can take longer than the
// timeout, re-issue forever and finish only once the network heals.) It
// keeps no state on disk: like the lab's, a restarted coordinator starts
// the job again.
type Coordinator struct {
	Files  []string
	Config Config
	// OnIssue, if set, sees every task handed out (checkers use it).
	OnIssue func(t Task)
	// OnFinish, if set, sees every task that becomes finished: its kind and
	// id, and whether the report came from a superseded attempt.
	OnFinish func(kind Kind, id int, superseded bool)
	// OnDone, if set, runs once when the job becomes done.
	OnDone func()

	env     *sim.Env
	maps    []taskState
	reduces []taskState
	mapsOK  int
	redOK   int
	last    map[string]lastAnswer
	boots   map[string]int
	issued  [2]int
}

type lastAnswer struct {
	seq  int
	task *Task
}

// Start initialises the job and the re-issue ticker.
func (c *Coordinator) Start(env *sim.Env) {
	if err := c.Config.Validate(); err != nil {
		env.Fail("mr-config", "%v", err)
		return
	}
	c.env = env
	c.maps = make([]taskState, len(c.Files))
	c.reduces = make([]taskState, c.Config.NReduce)
	c.last = map[string]lastAnswer{}
	c.boots = map[string]int{}
	env.After(c.Config.Poll, c.tick)
}

// Done reports whether every reduce task reported.
func (c *Coordinator) Done() bool { return c.env != nil && c.redOK == len(c.reduces) }

// MapsDone reports whether every map task reported.
func (c *Coordinator) MapsDone() bool { return c.env != nil && c.mapsOK == len(c.maps) }

// Issued returns how many map and reduce attempts were handed out.
func (c *Coordinator) Issued() (maps, reduces int) { return c.issued[0], c.issued[1] }

// Pending lists the tasks not finished yet ("m3", "r7"), for liveness
// messages.
func (c *Coordinator) Pending() []string {
	var out []string
	for i, t := range c.maps {
		if t.status != finished {
			out = append(out, fmt.Sprintf("m%d", i))
		}
	}
	for i, t := range c.reduces {
		if t.status != finished {
			out = append(out, fmt.Sprintf("r%d", i))
		}
	}
	return out
}

func (c *Coordinator) tick() {
	if c.Config.Reissue {
		now := c.env.Now()
		for _, ts := range [][]taskState{c.maps, c.reduces} {
			for i := range ts {
				if ts[i].status == running && now.Sub(ts[i].heard) >= c.Config.ReissueTimeout {
					ts[i].status = idle
					c.env.Sometimes("mr: task re-issued after timeout")
				}
			}
		}
	}
	c.env.After(c.Config.Poll, c.tick)
}

// tasks returns the task table of kind k, or nil for any other kind.
func (c *Coordinator) tasks(k Kind) []taskState {
	switch k {
	case TaskMap:
		return c.maps
	case TaskReduce:
		return c.reduces
	}
	return nil
}

// progress records a heartbeat or an abandonment of the current attempt;
// anything about another attempt is stale and ignored.
func (c *Coordinator) progress(from sim.NodeID, p *Progress) {
	ts := c.tasks(p.Kind)
	if p.ID < 0 || p.ID >= len(ts) {
		c.env.Logf("coord: progress for unknown task %d/%d from %d", p.Kind, p.ID, from)
		return
	}
	t := &ts[p.ID]
	if t.status != running || t.attempt != p.Attempt {
		return
	}
	if !p.Abandoned {
		t.heard = c.env.Now()
		return
	}
	if c.Config.Reissue {
		t.status = idle
		c.env.Sometimes("mr: abandoned task made idle")
	}
}

// Receive handles GetTask and Report requests and Progress messages.
func (c *Coordinator) Receive(from sim.NodeID, msg sim.Message) {
	if c.maps == nil {
		return
	}
	if p, ok := msg.(*Progress); ok {
		c.progress(from, p)
		return
	}
	req, ok := msg.(*sim.Request)
	if !ok {
		c.env.Logf("coord: dropped a %T from %d", msg, from)
		return
	}
	switch b := req.Body.(type) {
	case *GetTask:
		if la, ok := c.last[b.Worker]; ok && la.seq >= b.Seq {
			if la.seq == b.Seq {
				c.env.Reply(from, req, la.task)
				return
			}
			// A late copy of a request the worker has moved past: a new
			// task here would be held by nobody until it timed out.
			c.env.Sometimes("mr: stale GetTask answered with wait")
			c.env.Reply(from, req, &Task{Kind: TaskWait})
			return
		}
		if b.Host != "" && b.Boot < c.boots[b.Host] {
			// From a boot of that host that has since restarted: whatever
			// it is handed would be held by nobody.
			c.env.Sometimes("mr: GetTask of a past boot answered with wait")
			c.env.Reply(from, req, &Task{Kind: TaskWait})
			return
		}
		c.rebooted(b.Host, b.Boot)
		t := c.assign(b.Host, b.Boot)
		c.last[b.Worker] = lastAnswer{seq: b.Seq, task: t}
		c.env.Reply(from, req, t)
	case *Report:
		c.report(from, b)
		c.env.Reply(from, req, ReportAck{})
	default:
		c.env.Logf("coord: dropped a %T request from %d", req.Body, from)
	}
}

// rebooted notes that host runs boot now; if that is a later boot than the
// last one seen, the tasks its earlier boots held are lost and become idle
// (when Reissue is on).
func (c *Coordinator) rebooted(host string, boot int) {
	if host == "" {
		return
	}
	if last, ok := c.boots[host]; ok && last >= boot {
		return
	}
	c.boots[host] = boot
	if !c.Config.Reissue {
		return
	}
	for _, ts := range [][]taskState{c.maps, c.reduces} {
		for i := range ts {
			if ts[i].status == running && ts[i].host == host && ts[i].boot < boot {
				ts[i].status = idle
				c.env.Sometimes("mr: task of a restarted worker made idle at once")
			}
		}
	}
}

func (c *Coordinator) assign(host string, boot int) *Task {
	if c.Done() {
		return &Task{Kind: TaskDone}
	}
	kind, ts := TaskMap, c.maps
	if c.MapsDone() {
		kind, ts = TaskReduce, c.reduces
	}
	for i := range ts {
		if ts[i].status != idle {
			continue
		}
		ts[i].status = running
		ts[i].attempt++
		ts[i].heard = c.env.Now()
		ts[i].host, ts[i].boot = host, boot
		t := &Task{Kind: kind, ID: i, Attempt: ts[i].attempt, NMap: len(c.maps), NReduce: len(c.reduces)}
		if kind == TaskMap {
			t.File = c.Files[i]
			c.issued[0]++
		} else {
			c.issued[1]++
		}
		if ts[i].attempt > 1 {
			c.env.Sometimes("mr: task attempt > 1 handed out")
		}
		if c.OnIssue != nil {
			c.OnIssue(*t)
		}
		return t
	}
	return &Task{Kind: TaskWait}
}

// report marks the task finished on the first report of any attempt that
// was handed out; later reports (duplicates, slower attempts) change nothing.
func (c *Coordinator) report(from sim.NodeID, r *Report) {
	ts := c.tasks(r.Kind)
	if r.ID < 0 || r.ID >= len(ts) {
		c.env.Logf("coord: report for unknown task %d/%d from %d", r.Kind, r.ID, from)
		return
	}
	t := &ts[r.ID]
	if r.Attempt < 1 || r.Attempt > t.attempt {
		c.env.Logf("coord: report of attempt %d of task %d/%d from %d, never handed out", r.Attempt, r.Kind, r.ID, from)
		return
	}
	if t.status == finished {
		c.env.Sometimes("mr: late report of a finished task ignored")
		return
	}
	superseded := t.status != running || t.attempt != r.Attempt
	if superseded {
		c.env.Sometimes("mr: report of a superseded attempt accepted")
	}
	t.status = finished
	if c.OnFinish != nil {
		c.OnFinish(r.Kind, r.ID, superseded)
	}
	if r.Kind == TaskMap {
		c.mapsOK++
		return
	}
	c.redOK++
	if c.Done() && c.OnDone != nil {
		c.OnDone()
	}
}

// Inspect returns the coordinator's progress for a stopped run.
func (c *Coordinator) Inspect() any {
	return map[string]any{"maps_done": c.mapsOK, "reduces_done": c.redOK, "pending": c.Pending()}
}
