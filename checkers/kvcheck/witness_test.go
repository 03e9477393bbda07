package kvcheck

import (
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"testing"

	"github.com/anishathalye/porcupine"
)

// genHistory simulates clients on a versioned register: each operation
// takes effect at a point drawn within its interval, in the order of those
// points, so the history is linearizable; corrupt then breaks one result
// (usually making it illegal). Puts use the version the client last saw
// (often stale: ErrVersion), some answers are lost (ErrMaybe) and some
// operations are still pending at the end.
func genHistory(r *rand.Rand, keys, clients, perClient int, corrupt bool) []Op {
	type ev struct {
		at int64
		i  int
	}
	var ops []Op
	var evs []ev
	seen := make([]map[string]uint64, clients)
	for c := 0; c < clients; c++ {
		seen[c] = map[string]uint64{}
		t := int64(r.Intn(5))
		for j := 0; j < perClient; j++ {
			call := t + int64(r.Intn(4))
			ret := call + 1 + int64(r.Intn(12))
			key := fmt.Sprintf("k%d", r.Intn(keys))
			o := Op{Client: c, Put: r.Intn(2) == 0, Key: key, Call: call, Return: ret}
			if o.Put {
				o.Value = fmt.Sprintf("c%dj%d", c, j)
			}
			if j == perClient-1 && r.Intn(3) == 0 {
				o.Pending = true
			}
			evs = append(evs, ev{call + r.Int63n(ret-call+1), len(ops)})
			ops = append(ops, o)
			t = ret + 1
		}
	}
	sort.Slice(evs, func(a, b int) bool { return evs[a].at < evs[b].at || evs[a].at == evs[b].at && evs[a].i < evs[b].i })
	state := map[string]State{}
	for _, e := range evs {
		o := &ops[e.i]
		s := state[o.Key]
		if !o.Put {
			o.Err, o.Value, o.Version = ErrNoKey, "", 0
			if s.Version > 0 {
				o.Err, o.Value, o.Version = OK, s.Value, s.Version
			}
			seen[o.Client][o.Key] = s.Version
			continue
		}
		o.Version = seen[o.Client][o.Key]
		if r.Intn(4) == 0 {
			o.Version = s.Version // a fresh read just before
		}
		switch {
		case o.Version == s.Version:
			o.Err = OK
			state[o.Key] = State{Value: o.Value, Version: s.Version + 1}
		case s.Version == 0 && o.Version > 0:
			o.Err = ErrNoKey
		default:
			o.Err = ErrVersion
		}
		if o.Err != ErrNoKey && r.Intn(6) == 0 {
			o.Err = ErrMaybe
		}
	}
	if corrupt {
		o := &ops[r.Intn(len(ops))]
		switch {
		case !o.Put && o.Err == OK:
			o.Version++
		case !o.Put:
			o.Err, o.Value, o.Version = OK, "x", 1
		case o.Err == OK:
			o.Err = ErrVersion
		default:
			o.Err = OK
		}
	}
	return ops
}

// TestWitnessSound: on thousands of random histories, the witness never
// answers Ok where porcupine finds a violation, Check's verdict is
// porcupine's, and the witness decides nearly every linearizable history
// by itself (else it would save nothing).
func TestWitnessSound(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	var legal, found, illegal int
	for n := 0; n < 3000; n++ {
		ops := genHistory(r, 1+r.Intn(3), 2+r.Intn(4), 2+r.Intn(8), n%3 == 0)
		hist := Operations(ops)
		want := porcupine.CheckOperations(Model, hist)
		got := witnessAll(hist)
		if got && !want {
			t.Fatalf("history %d: witness found for a non-linearizable history: %+v", n, ops)
		}
		if res := Check(ops, Options{NoPicture: true}); (res.Outcome == Ok) != want {
			t.Fatalf("history %d: Check says %s, porcupine linearizable=%v", n, res.Outcome, want)
		}
		if want {
			legal++
			if got {
				found++
			}
		} else {
			illegal++
		}
	}
	t.Logf("%d linearizable histories, witness found for %d; %d not linearizable", legal, found, illegal)
	if illegal < 300 || found < legal*99/100 {
		t.Errorf("%d linearizable, %d witnessed, %d illegal: the generator or the witness is off", legal, found, illegal)
	}
}

// TestWitnessRefuses: hand-made violations get no witness (each is
// caught by verify or refused by the construction).
func TestWitnessRefuses(t *testing.T) {
	cases := map[string][]Op{
		"stale read": {
			put(0, "k", "a", 0, OK, 0, 1), put(0, "k", "b", 1, OK, 2, 3),
			get(1, "k", "a", 1, OK, 4, 5),
		},
		"two OK puts at one version": {
			put(0, "k", "a", 0, OK, 0, 10), put(1, "k", "b", 0, OK, 0, 10),
		},
		"read of a value never written": {
			put(0, "k", "a", 0, OK, 0, 1), get(1, "k", "z", 1, OK, 2, 3),
		},
		"ErrNoKey after a put": {
			put(0, "k", "a", 0, OK, 0, 1), get(1, "k", "", 0, ErrNoKey, 2, 3),
		},
		"ErrVersion with the current version": {
			put(0, "k", "a", 0, OK, 0, 1), put(1, "k", "b", 1, ErrVersion, 2, 3),
		},
	}
	for name, ops := range cases {
		hist := Operations(ops)
		if witnessAll(hist) {
			t.Errorf("%s: witness found", name)
		}
		if porcupine.CheckOperations(Model, hist) {
			t.Errorf("%s: porcupine finds it linearizable: not a violation", name)
		}
		if res := Check(ops, Options{NoPicture: true}); res.Outcome != Illegal {
			t.Errorf("%s: Check says %s", name, res.Outcome)
		}
	}
}

// BenchmarkCheckHotKey: one key, 8 clients, 4000 operations, all
// concurrent, as kv/concurrent's and kvsrv/concurrent-reliable's hot keys:
// Check (the witness) against porcupine alone.
func BenchmarkCheckHotKey(b *testing.B) {
	ops := genHistory(rand.New(rand.NewSource(2)), 1, 8, 500, false)
	hist := Operations(ops)
	if !porcupine.CheckOperations(Model, hist) || !witnessAll(hist) {
		b.Fatal("want a linearizable history with a witness")
	}
	b.Run("check", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if Check(ops, Options{}).Outcome != Ok {
				b.Fatal("not ok")
			}
		}
	})
	b.Run("porcupine", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if !porcupine.CheckOperations(Model, Operations(ops)) {
				b.Fatal("not ok")
			}
		}
	})
}

// Check reads the caller's operations in place (no copy on the witness
// path) and must leave them as they were, pending ones included.
func TestCheckLeavesOpsUnchanged(t *testing.T) {
	ops := []Op{
		put(0, "k", "a", 0, OK, 0, 1),
		put(1, "k", "b", 1, "", 2, 0), // pending: checked as ErrMaybe
		get(2, "k", "a", 1, OK, 3, 4),
	}
	ops[1].Pending = true
	ops = append(ops, get(3, "k", "", 0, "", 5, 0))
	ops[3].Pending = true
	before := append([]Op(nil), ops...)
	if res := Check(ops, Options{NoPicture: true}); res.Outcome != Ok || res.Ops != 3 || res.Keys != 1 {
		t.Fatalf("Check = %s, %d ops, %d keys; want Ok, 3, 1", res.Outcome, res.Ops, res.Keys)
	}
	if !reflect.DeepEqual(ops, before) {
		t.Fatalf("Check changed its input:\n got %+v\nwant %+v", ops, before)
	}
}
