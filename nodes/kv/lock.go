package kv

import (
	"strconv"

	"github.com/smilingraft/dsim/sim"
)

// Lock is a mutual-exclusion lock on one key, built only on a Clerk's Get
// and versioned Put (the lab's MakeLock). The key holds "" when the lock is
// free and the holder's id when held. The id is unique per Lock value (the
// clerk's id and the lock's name), so an ErrMaybe Put is resolved by reading
// the key back: holding our id means our Put applied. Acquire and Release
// never give up while the service is unreachable; they finish once it
// answers again, so no holder is stuck by a lost reply.
type Lock struct {
	ck    *Clerk
	env   *sim.Env
	key   string
	id    string
	wait  sim.Duration
	held  bool
	polls uint64
}

// NewLock returns a lock on key through ck. wait is how long Acquire waits
// before polling a lock held by someone else (0: 5ms).
func NewLock(env *sim.Env, ck *Clerk, key string, wait sim.Duration) *Lock {
	if wait <= 0 {
		wait = 5 * sim.Millisecond
	}
	id := strconv.FormatUint(ck.ID(), 36) + "/" + strconv.FormatUint(env.Rand().Uint64(), 36)
	return &Lock{ck: ck, env: env, key: key, id: id, wait: wait}
}

// ID returns the value the key holds while this lock is held.
func (l *Lock) ID() string { return l.id }

// Held reports whether this lock believes it holds the key.
func (l *Lock) Held() bool { return l.held }

// Acquire calls cb once this lock holds the key.
func (l *Lock) Acquire(cb func()) {
	l.ck.Get(l.key, func(value string, version uint64, err Err) {
		switch {
		case err == ErrNoKey:
			l.ck.Put(l.key, l.id, 0, func(err Err) { l.afterPut(err, cb) })
		case err != OK:
			l.env.Logf("lock %s: Get answered %s; retrying", l.key, err)
			l.env.After(l.wait, func() { l.Acquire(cb) })
		case value == l.id:
			// An earlier ErrMaybe Put of ours did apply.
			l.held = true
			cb()
		case value == "":
			l.ck.Put(l.key, l.id, version, func(err Err) { l.afterPut(err, cb) })
		default:
			l.polls++
			l.env.After(l.wait, func() { l.Acquire(cb) })
		}
	})
}

func (l *Lock) afterPut(err Err, cb func()) {
	if err == OK {
		l.held = true
		cb()
		return
	}
	// ErrVersion: someone else won; ErrMaybe: the next Get tells whether
	// our Put applied; ErrNoKey cannot happen for version 0.
	l.Acquire(cb)
}

// Release frees the key (if this lock holds it) and then calls cb.
func (l *Lock) Release(cb func()) {
	l.held = false
	l.ck.Get(l.key, func(value string, version uint64, err Err) {
		if err != OK || value != l.id {
			// Not ours (any more): an ErrMaybe release did apply.
			cb()
			return
		}
		l.ck.Put(l.key, "", version, func(err Err) {
			if err == OK {
				cb()
				return
			}
			l.Release(cb) // ErrMaybe: read back whether it applied
		})
	})
}
