package kvcheck

import (
	"sort"

	"github.com/anishathalye/porcupine"
)

// Witnesses: before porcupine's search, Check tries to build one
// linearization of each key's history directly from the versions the
// operations carry, and verifies it. A verified linearization proves the
// key linearizable, so a history whose every key has one is Ok without
// porcupine (whose cache of visited states grows with the square of a hot
// key's operations: hundreds of MB and most of a run's CPU for a key
// thousands of concurrent operations long). Anything else, a violation or
// a history the construction does not handle, goes to porcupine exactly as
// before, which also draws and explains violations: the fast path can only
// ever answer Ok, and only with a proof.
//
// The construction: a linearization applies Puts at versions 0, 1, ...,
// K-1 in turn (the chain), one each (an OK Put at its version, or an
// ErrMaybe Put where no OK Put has it, preferring one whose value a read
// of the next version returned, and ErrMaybe Puts at the version reached,
// which then apply at the end); an OK Get of version k, and an
// ErrNoKey Get or Put (version 0), must fall between the chain's Puts at
// k-1 and k. Each chain Put is placed at the earliest time its interval,
// its predecessor and the operations that must precede it allow; each
// other operation at a time within its own interval; the order is by time,
// ties broken by chain position. Every operation then sits within its
// [Call, Return] interval, so the order respects real time; verify checks
// that again and replays the model over it.

// witnessAll reports whether every key of hist (Operations' form) has a
// verified witness.
func witnessAll(hist []porcupine.Operation) bool {
	ops := make([]*Op, len(hist))
	for i, o := range hist {
		ops[i] = o.Input.(*Op)
	}
	return witnessParts(partitionByKey(ops))
}

// witnessParts reports whether every key's operations have a verified
// witness.
func witnessParts(parts [][]*Op) bool {
	for _, ops := range parts {
		if !witness(ops) {
			return false
		}
	}
	return true
}

// placed is an operation's position in a witness: time, then rank (2k+1
// for the chain's Put at version k, 2k for an operation that sees version
// k), then its index.
type placed struct {
	t    int64
	rank uint64
	i    int
}

// witness builds and verifies a linearization of one key's operations.
func witness(ops []*Op) bool {
	// The chain's length K and its OK Puts.
	var k uint64
	okAt := map[uint64]int{}
	for i, o := range ops {
		switch {
		case o.Put && o.Err == OK:
			if _, dup := okAt[o.Version]; dup {
				return false // two OK Puts at one version: not linearizable
			}
			okAt[o.Version] = i
			if o.Version+1 > k {
				k = o.Version + 1
			}
		case !o.Put && o.Err == OK && o.Version > k:
			k = o.Version
		}
	}
	if k > uint64(len(ops)) {
		return false // more versions than operations: no chain
	}
	// An OK Get of version v+1 names the value the Put at version v wrote:
	// of several ErrMaybe Puts at v, prefer one that wrote it.
	read := map[uint64]string{} // version -> a value an OK Get returned
	for _, o := range ops {
		if !o.Put && o.Err == OK {
			read[o.Version] = o.Value
		}
	}
	maybeAt := map[uint64]int{} // version -> its chosen ErrMaybe Put
	better := func(i, m int) bool {
		o, p := ops[i], ops[m]
		want, named := read[o.Version+1]
		if named && (o.Value == want) != (p.Value == want) {
			return o.Value == want
		}
		return o.Call < p.Call
	}
	for i, o := range ops {
		if o.Put && o.Err == ErrMaybe {
			if m, ok := maybeAt[o.Version]; !ok || better(i, m) {
				maybeAt[o.Version] = i
			}
		}
	}
	chain := make([]int, k)
	for v := range chain {
		i, ok := okAt[uint64(v)]
		if !ok {
			if i, ok = maybeAt[uint64(v)]; !ok {
				return false // no Put that could have made version v+1
			}
		}
		chain[v] = i
	}
	// ErrMaybe Puts at the final version apply at the end (a clerk's last
	// Put, pending when the run stopped, is one).
	for {
		i, ok := maybeAt[k]
		if !ok {
			break
		}
		chain = append(chain, i)
		k++
	}
	inChain := make([]bool, len(ops))
	for _, c := range chain {
		if c < 0 {
			return false
		}
		inChain[c] = true
	}

	// sees returns the version an operation must see (ok false if any
	// version but one it returns in avoid will do, or it never fits).
	const none = ^uint64(0)
	sees := func(o *Op) (v, avoid uint64, ok bool) {
		switch {
		case !o.Put && o.Err == OK && o.Version > 0:
			return o.Version, none, true
		case !o.Put && o.Err == ErrNoKey, o.Put && o.Err == ErrNoKey && o.Version > 0:
			return 0, none, true
		case o.Put && (o.Err == ErrVersion || o.Err == ErrMaybe):
			return none, o.Version, true // not applied: any version but its own
		}
		return none, none, false
	}

	// lo[v] and hi[v]: the latest call and the earliest return of the
	// operations that must see version v.
	lo := make([]int64, k+1)
	hi := make([]int64, k+1)
	for v := range hi {
		lo[v], hi[v] = -1<<63, 1<<63-1
	}
	for i, o := range ops {
		if inChain[i] {
			continue
		}
		v, avoid, ok := sees(o)
		switch {
		case !ok:
			return false
		case avoid != none:
			continue
		case v > k:
			return false
		}
		lo[v] = max(lo[v], o.Call)
		hi[v] = min(hi[v], o.Return)
	}

	// The chain, each Put as early as possible.
	pt := make([]int64, k)
	prev := int64(-1 << 63)
	for v, c := range chain {
		t := max(ops[c].Call, prev, lo[v])
		if t > ops[c].Return || t > hi[v+1] {
			return false
		}
		pt[v], prev = t, t
	}

	order := make([]placed, 0, len(ops))
	for v, c := range chain {
		order = append(order, placed{pt[v], 2*uint64(v) + 1, c})
	}
	for i, o := range ops {
		if inChain[i] {
			continue
		}
		v, avoid, _ := sees(o)
		if avoid == none {
			t := o.Call
			if v > 0 {
				t = max(t, pt[v-1])
			}
			order = append(order, placed{t, 2 * v, i})
			continue
		}
		// Any version but avoid: at the call or the return, after or
		// before the chain Puts placed at that very time.
		found := false
		for _, t := range [2]int64{o.Call, o.Return} {
			after := uint64(sort.Search(len(pt), func(j int) bool { return pt[j] > t }))
			before := uint64(sort.Search(len(pt), func(j int) bool { return pt[j] >= t }))
			for _, x := range [2]uint64{after, before} {
				if x != avoid {
					order = append(order, placed{t, 2 * x, i})
					found = true
					break
				}
			}
			if found {
				break
			}
		}
		if !found {
			return false
		}
	}
	sort.Slice(order, func(a, b int) bool {
		x, y := order[a], order[b]
		if x.t != y.t {
			return x.t < y.t
		}
		if x.rank != y.rank {
			return x.rank < y.rank
		}
		return x.i < y.i
	})
	return verify(ops, order)
}

// verify reports whether order is a linearization of ops: every operation
// once, none placed after one that returned before it was called, and each
// legal under Model's step in turn from the initial state.
func verify(ops []*Op, order []placed) bool {
	if len(order) != len(ops) {
		return false
	}
	seen := make([]bool, len(ops))
	maxCall := int64(-1 << 63)
	s := &State{}
	for _, p := range order {
		o := ops[p.i]
		if seen[p.i] || o.Return < maxCall {
			return false
		}
		seen[p.i] = true
		maxCall = max(maxCall, o.Call)
		ok, next := step(s, o)
		if !ok {
			return false
		}
		s = next.(*State)
	}
	return true
}
