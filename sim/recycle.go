package sim

import "reflect"

// Message reuse. A node library whose hot messages are read once and
// dropped (Raft's AppendEntries replies) may hand each one back after
// handling it, and build the next one from the world's spares instead of
// the heap. The library promises that neither the sender nor the receiver
// keeps a reference to such a message once it is sent and handled. Reuse
// never changes what runs: a message comes back zeroed, and the kernel
// takes one back only when it is the message being delivered right now and
// no other copy of it is in flight (the network duplicated it) or held (a
// paused receiver).

// spares is a world's free list of recycled messages of one type.
type spares struct {
	t    reflect.Type // the pointed-to type
	msgs []Message
}

// maxSpares bounds each free list: recycling more than a world ever has in
// flight would only hold memory.
const maxSpares = 256

// Reuse returns a zeroed *T: one the world's nodes recycled, else a new one.
// Use it for a message type whose receivers call Env.Recycle.
func Reuse[T any](e *Env) *T {
	w := e.w
	t := reflect.TypeFor[T]()
	for i := range w.spares {
		s := &w.spares[i]
		if s.t != t {
			continue
		}
		n := len(s.msgs)
		if n == 0 {
			break
		}
		m := s.msgs[n-1].(*T)
		s.msgs[n-1] = nil
		s.msgs = s.msgs[:n-1]
		var zero T
		*m = zero
		return m
	}
	return new(T)
}

// Recycle hands back msg, the message this node is handling, for Reuse: the
// caller promises that it keeps no reference to msg or to anything inside it
// that Reuse's zeroing would change. It does nothing unless msg is a pointer
// and the very message being delivered (so a message handled later, from a
// timer, or a reply to an RPC, is never taken), and the only copy of it. An
// RPC's *Request is never taken either: its call's timeout still holds it.
func (e *Env) Recycle(msg Message) {
	w := e.w
	if msg == nil || w.curDup || reflect.TypeOf(msg).Kind() != reflect.Pointer || msg != w.curMsg {
		return
	}
	if _, ok := msg.(*Request); ok {
		return
	}
	w.curMsg = nil // once
	t := reflect.TypeOf(msg).Elem()
	for i := range w.spares {
		if s := &w.spares[i]; s.t == t {
			if len(s.msgs) < maxSpares {
				s.msgs = append(s.msgs, msg)
			}
			return
		}
	}
	w.spares = append(w.spares, spares{t: t, msgs: []Message{msg}})
}
