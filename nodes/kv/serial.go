package kv

// Serializer runs operations of type T one at a time, in the order they
// were started: a clerk keeps one operation outstanding (its (client, seq)
// identity and "maybe" bookkeeping depend on it) and queues the rest. Each
// operation calls Done exactly once when it has finished. The clerks queue
// their operation records and start them with a method, so that no closure
// is made per operation. The zero value is idle.
type Serializer[T any] struct {
	busy  bool
	queue []T
}

// Run starts op with start now if no operation is running, else after the
// ones ahead.
func (s *Serializer[T]) Run(op T, start func(T)) {
	if s.busy {
		s.queue = append(s.queue, op)
		return
	}
	s.busy = true
	start(op)
}

// Done ends the current operation and starts the next queued one, if any,
// with start.
func (s *Serializer[T]) Done(start func(T)) {
	if len(s.queue) == 0 {
		s.busy = false
		return
	}
	// Shift rather than reslice, so that Run's append reuses the array (a
	// queue resliced from the front reallocates as it goes).
	op := s.queue[0]
	n := copy(s.queue, s.queue[1:])
	var zero T
	s.queue[n] = zero
	s.queue = s.queue[:n]
	start(op)
}

// Serial is a Serializer of funcs, each started by calling it.
type Serial struct {
	s Serializer[func()]
}

// Run starts fn now if no operation is running, else after the ones ahead.
func (s *Serial) Run(fn func()) { s.s.Run(fn, call) }

// Done ends the current operation and starts the next queued one.
func (s *Serial) Done() { s.s.Done(call) }

func call(fn func()) { fn() }
