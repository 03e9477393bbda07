package kv

// Serial runs operations one at a time, in the order they were started: a
// clerk keeps one operation outstanding (its (client, seq) identity and
// "maybe" bookkeeping depend on it) and queues the rest. Each operation
// calls Done exactly once when it has finished. The zero value is idle.
type Serial struct {
	busy  bool
	queue []func()
}

// Run starts fn now if no operation is running, else after the ones ahead.
func (s *Serial) Run(fn func()) {
	if s.busy {
		s.queue = append(s.queue, fn)
		return
	}
	s.busy = true
	fn()
}

// Done ends the current operation and starts the next queued one.
func (s *Serial) Done() {
	if len(s.queue) == 0 {
		s.busy = false
		return
	}
	// Shift rather than reslice, so that Run's append reuses the array (a
	// queue resliced from the front reallocates as it goes).
	fn := s.queue[0]
	n := copy(s.queue, s.queue[1:])
	s.queue[n] = nil
	s.queue = s.queue[:n]
	fn()
}
