package sim

// eventKind says what an event does when it fires.
type eventKind uint8

const (
	evDeliver eventKind = iota + 1 // a message arrives at node
	evTimer                        // a node's timer fires
	evFunc                         // a world-level callback (scripts, actions, probes)
)

// event is one entry of the world's queue. Events are pooled: in steady state
// the kernel allocates nothing per event.
type event struct {
	at   Time
	seq  uint64
	kind eventKind
	node NodeID // target node (deliver, timer)
	from NodeID // sender (deliver)
	inc  uint32 // target incarnation (timer)
	size int32  // message size in bytes (deliver)
	idx  int32  // position in the heap, -1 when not queued
	dup  bool   // deliver: the network duplicated msg (never recycled)

	local Time    // timer: deadline on the node's local clock
	rid   uint64  // deliver: the call id when msg is an RPC answer's body
	msg   Message // deliver: the message; timer without fn: the call's *Request
	fn    func()
}

// queue is a binary min-heap of events ordered by (at, seq). It is written
// out by hand (not container/heap) to avoid interface calls per operation.
type queue struct {
	h []*event
}

func less(a, b *event) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

func (q *queue) len() int { return len(q.h) }

func (q *queue) push(e *event) {
	e.idx = int32(len(q.h))
	q.h = append(q.h, e)
	q.up(int(e.idx))
}

func (q *queue) pop() *event {
	n := len(q.h) - 1
	e := q.h[0]
	q.swap(0, n)
	q.h[n] = nil
	q.h = q.h[:n]
	if n > 0 {
		q.down(0)
	}
	e.idx = -1
	return e
}

// remove takes e out of the queue wherever it is.
func (q *queue) remove(e *event) {
	i := int(e.idx)
	n := len(q.h) - 1
	if i != n {
		q.swap(i, n)
	}
	q.h[n] = nil
	q.h = q.h[:n]
	if i != n {
		if !q.down(i) {
			q.up(i)
		}
	}
	e.idx = -1
}

// fix restores heap order after e.at changed.
func (q *queue) fix(e *event) {
	i := int(e.idx)
	if !q.down(i) {
		q.up(i)
	}
}

func (q *queue) swap(i, j int) {
	q.h[i], q.h[j] = q.h[j], q.h[i]
	q.h[i].idx = int32(i)
	q.h[j].idx = int32(j)
}

func (q *queue) up(j int) {
	for {
		i := (j - 1) / 2
		if i == j || !less(q.h[j], q.h[i]) {
			break
		}
		q.swap(i, j)
		j = i
	}
}

func (q *queue) down(i0 int) bool {
	i := i0
	n := len(q.h)
	for {
		j1 := 2*i + 1
		if j1 >= n || j1 < 0 {
			break
		}
		j := j1
		if j2 := j1 + 1; j2 < n && less(q.h[j2], q.h[j1]) {
			j = j2
		}
		if !less(q.h[j], q.h[i]) {
			break
		}
		q.swap(i, j)
		i = j
	}
	return i > i0
}
