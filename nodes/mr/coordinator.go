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
	// ReissueTimeout is how long a task may run before it is re-issued; the
	// lab needs more than 5 s (jobcount) and little enough to finish in time.
	ReissueTimeout sim.Duration
	// AtomicRename publishes every output by writing a unique temporary file
	// and renaming it (false is the unsafe variant: outputs are created and
	// written in place, so readers can see them partial or truncated).
	AtomicRename bool
	// ChunkBytes is the size of one write RPC: a crash between chunks leaves
	// a partial file.
	ChunkBytes int
	// RPCTimeout bounds every RPC a worker makes.
	RPCTimeout sim.Duration
	// Poll is how long a worker waits before asking again when told to wait
	// or when the coordinator did not answer.
	Poll sim.Duration
	// MaxContactFailures is how many consecutive unanswered requests make a
	// worker conclude the coordinator is gone and exit.
	MaxContactFailures int
	// FSRetries bounds the retries of one FS request before the worker
	// abandons its task (the coordinator will re-issue it).
	FSRetries int
}

// DefaultConfig is the lab's set-up: nReduce 10, re-issue after 10 s,
// atomic renames.
func DefaultConfig() Config {
	return Config{NReduce: 10, Reissue: true, ReissueTimeout: 10 * sim.Second, AtomicRename: true,
		ChunkBytes: 256, RPCTimeout: sim.Second, Poll: 500 * sim.Millisecond,
		MaxContactFailures: 30, FSRetries: 20}
}

// Validate rejects nonsense.
func (c Config) Validate() error {
	switch {
	case c.NReduce < 1 || c.NReduce > 1000:
		return fmt.Errorf("mr: nReduce %d out of range 1..1000", c.NReduce)
	case c.ReissueTimeout <= 0:
		return fmt.Errorf("mr: re-issue timeout must be positive")
	case c.ChunkBytes < 1 || c.RPCTimeout <= 0 || c.Poll <= 0 || c.MaxContactFailures < 1 || c.FSRetries < 1:
		return fmt.Errorf("mr: chunk size, timeouts and retry limits must be positive")
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
// instead of a second task.
type GetTask struct {
	Worker string
	Seq    int
}

// Size is the request's encoded size.
func (g *GetTask) Size() int { return 8 + len(g.Worker) }

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

// Report tells the coordinator an attempt finished and published its output.
type Report struct {
	Kind    Kind
	ID      int
	Attempt int
}

// Size is the report's encoded size.
func (*Report) Size() int { return 16 }

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
	started sim.Time
}

// Coordinator hands out the map tasks (one per input file), then, only
// after every map finished, the reduce tasks; re-issues a task still running
// after ReissueTimeout (if Reissue); ignores reports from superseded
// attempts; and is done when every reduce reported. It keeps no state on
// disk: like the lab's, a restarted coordinator starts the job again.
type Coordinator struct {
	Files  []string
	Config Config
	// OnIssue, if set, sees every task handed out (checkers use it).
	OnIssue func(t Task)
	// OnDone, if set, runs once when the job becomes done.
	OnDone func()

	env     *sim.Env
	maps    []taskState
	reduces []taskState
	mapsOK  int
	redOK   int
	last    map[string]lastAnswer
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
				if ts[i].status == running && now.Sub(ts[i].started) >= c.Config.ReissueTimeout {
					ts[i].status = idle
					c.env.Sometimes("mr: task re-issued after timeout")
				}
			}
		}
	}
	c.env.After(c.Config.Poll, c.tick)
}

// Receive handles GetTask and Report requests.
func (c *Coordinator) Receive(from sim.NodeID, msg sim.Message) {
	req, ok := msg.(*sim.Request)
	if !ok || c.maps == nil {
		return
	}
	switch b := req.Body.(type) {
	case *GetTask:
		if la, ok := c.last[b.Worker]; ok && la.seq == b.Seq {
			c.env.Reply(from, req, la.task)
			return
		}
		t := c.assign()
		c.last[b.Worker] = lastAnswer{seq: b.Seq, task: t}
		c.env.Reply(from, req, t)
	case *Report:
		c.report(b)
		c.env.Reply(from, req, ReportAck{})
	}
}

func (c *Coordinator) assign() *Task {
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
		ts[i].started = c.env.Now()
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

func (c *Coordinator) report(r *Report) {
	ts := c.maps
	if r.Kind == TaskReduce {
		ts = c.reduces
	} else if r.Kind != TaskMap {
		return
	}
	if r.ID < 0 || r.ID >= len(ts) {
		return
	}
	t := &ts[r.ID]
	if t.status != running || t.attempt != r.Attempt {
		c.env.Sometimes("mr: late report from a superseded attempt ignored")
		return
	}
	t.status = finished
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
