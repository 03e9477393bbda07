package kvcheck

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func put(c int, key, val string, ver uint64, err string, call, ret int64) Op {
	return Op{Client: c, Put: true, Key: key, Value: val, Version: ver, Err: err, Call: call, Return: ret}
}

func get(c int, key, val string, ver uint64, err string, call, ret int64) Op {
	return Op{Client: c, Key: key, Value: val, Version: ver, Err: err, Call: call, Return: ret}
}

func TestLinearizability(t *testing.T) {
	cases := []struct {
		name string
		ops  []Op
		want Outcome
	}{
		{"empty", nil, Ok},
		{"sequential", []Op{
			get(0, "k", "", 0, ErrNoKey, 0, 1),
			put(0, "k", "a", 0, OK, 2, 3),
			get(0, "k", "a", 1, OK, 4, 5),
			put(0, "k", "b", 0, ErrVersion, 6, 7),
			put(0, "y", "b", 1, ErrNoKey, 8, 9),
		}, Ok},
		{"concurrent puts, either order", []Op{
			put(0, "k", "a", 0, OK, 0, 10),
			put(1, "k", "b", 0, ErrVersion, 0, 10),
			get(2, "k", "a", 1, OK, 11, 12),
		}, Ok},
		{"maybe applied", []Op{
			put(0, "k", "a", 0, ErrMaybe, 0, 10),
			get(1, "k", "a", 1, OK, 11, 12),
		}, Ok},
		{"maybe not applied: another put won", []Op{
			put(0, "k", "a", 0, ErrMaybe, 0, 10),
			put(1, "k", "b", 0, OK, 0, 10),
			get(1, "k", "b", 1, OK, 11, 12),
		}, Ok},
		{"pending put applies later", []Op{
			{Client: 0, Put: true, Key: "k", Value: "a", Call: 0, Pending: true},
			get(1, "k", "", 0, ErrNoKey, 5, 6),
			get(1, "k", "a", 1, OK, 7, 8),
		}, Ok},
		{"pending get dropped", []Op{
			{Client: 0, Key: "k", Call: 0, Pending: true},
		}, Ok},
		// Violations.
		{"stale read", []Op{
			put(0, "k", "a", 0, OK, 0, 1),
			put(0, "k", "b", 1, OK, 2, 3),
			get(1, "k", "a", 1, OK, 4, 5),
		}, Illegal},
		{"put ignored its version", []Op{
			put(0, "k", "a", 0, OK, 0, 1),
			put(1, "k", "b", 0, OK, 2, 3),
		}, Illegal},
		{"lost put", []Op{
			put(0, "k", "a", 0, OK, 0, 1),
			get(1, "k", "", 0, ErrNoKey, 2, 3),
		}, Illegal},
		{"ErrVersion but applied", []Op{
			put(0, "k", "a", 0, ErrVersion, 0, 1),
			get(1, "k", "a", 1, OK, 2, 3),
		}, Illegal},
		{"wrong version returned", []Op{
			put(0, "k", "a", 0, OK, 0, 1),
			get(1, "k", "a", 2, OK, 2, 3),
		}, Illegal},
		{"ErrNoKey on existing key", []Op{
			put(0, "k", "a", 0, OK, 0, 1),
			put(0, "k", "b", 5, ErrNoKey, 2, 3),
		}, Illegal},
		{"violation on one key among many", []Op{
			put(0, "x", "1", 0, OK, 0, 1),
			put(1, "y", "1", 0, OK, 0, 1),
			get(2, "x", "1", 1, OK, 2, 3),
			get(2, "y", "", 0, ErrNoKey, 4, 5),
		}, Illegal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Check(tc.ops, Options{Annotations: []Annotation{{Tag: "faults", Start: 0, End: 3, Description: "partition"}}})
			if res.Outcome != tc.want {
				t.Fatalf("outcome %s, want %s", res.Outcome, tc.want)
			}
			if (res.Err() == nil) != (tc.want == Ok) {
				t.Errorf("Err() = %v for %s", res.Err(), res.Outcome)
			}
			if tc.want == Illegal {
				if !bytes.Contains(res.HTML, []byte("<html")) || !bytes.Contains(res.HTML, []byte("partition")) {
					t.Errorf("no annotated picture (%d bytes)", len(res.HTML))
				}
			} else if res.HTML != nil {
				t.Errorf("picture for a passing history")
			}
		})
	}
}

// A history porcupine cannot finish in time is Unknown, and Unknown is an
// error: never a pass.
func TestUnknownIsNotAPass(t *testing.T) {
	var ops []Op
	// Many concurrent maybe-Puts on one key and no reads: a huge search.
	for i := 0; i < 300; i++ {
		ops = append(ops, put(i, "k", strings.Repeat("v", i%7), uint64(i%40), ErrMaybe, 0, 1000))
	}
	ops = append(ops, get(0, "k", "never", 99, OK, 2000, 2001))
	res := Check(ops, Options{Timeout: time.Millisecond})
	t.Logf("outcome %s after %v", res.Outcome, res.Elapsed)
	if res.Outcome != Unknown {
		t.Fatalf("outcome %s, want unknown after a 1ms budget", res.Outcome)
	}
	if res.Err() == nil || !strings.Contains(res.Err().Error(), "unknown") {
		t.Errorf("unknown reported as %v", res.Err())
	}
}

func TestOperationsPending(t *testing.T) {
	ops := []Op{
		put(0, "k", "a", 0, OK, 0, 10),
		{Client: 1, Put: true, Key: "k", Value: "b", Version: 1, Call: 5, Pending: true},
		{Client: 2, Key: "k", Call: 6, Pending: true},
	}
	got := Operations(ops)
	if len(got) != 2 {
		t.Fatalf("%d ops, want 2 (pending get dropped)", len(got))
	}
	p := *got[1].Input.(*Op)
	want := Op{Client: 1, Put: true, Key: "k", Value: "b", Version: 1, Err: ErrMaybe, Call: 5, Return: 11, Pending: true}
	if d := cmp.Diff(want, p); d != "" || got[1].Return != 11 {
		t.Errorf("pending put (-want +got)\n%s", d)
	}
}

func TestDurable(t *testing.T) {
	ops := []Op{
		put(0, "k", "a", 0, OK, 0, 1),
		put(0, "k", "b", 1, OK, 2, 3),
		put(1, "x", "z", 0, ErrMaybe, 0, 1),
		put(1, "y", "q", 0, OK, 0, 1),
	}
	if err := Durable(ops, map[string]State{"k": {"b", 2}, "y": {"q", 1}}); err != nil {
		t.Errorf("good state: %v", err)
	}
	if err := Durable(ops, map[string]State{"k": {"c", 3}, "y": {"r", 2}}); err != nil {
		t.Errorf("overwritten state: %v", err)
	}
	if err := Durable(ops, map[string]State{"k": {"b", 2}}); err == nil {
		t.Error("lost key y not caught")
	}
	if err := Durable(ops, map[string]State{"k": {"a", 1}, "y": {"q", 1}}); err == nil {
		t.Error("rolled-back version not caught")
	}
	if err := Durable(ops, map[string]State{"k": {"other", 2}, "y": {"q", 1}}); err == nil {
		t.Error("wrong value at the acknowledged version not caught")
	}
	// Several losses: the first in key order is reported, whatever the
	// history order (y's put comes after k's).
	if err := Durable(ops, map[string]State{}); err == nil || !strings.Contains(err.Error(), `put("k", "a", v0)`) {
		t.Errorf("two lost keys: %v, want k's first put", err)
	}
	rev := []Op{ops[3], ops[1], ops[0]}
	if err := Durable(rev, map[string]State{}); err == nil || !strings.Contains(err.Error(), `put("k", "b", v1)`) {
		t.Errorf("two lost keys, y first in history: %v, want k's first put in history order", err)
	}
}

func TestMutex(t *testing.T) {
	var m Mutex
	if err := m.Acquired("a", 1); err != nil {
		t.Fatal(err)
	}
	if err := m.Acquired("b", 2); err == nil || !strings.Contains(err.Error(), "two holders") {
		t.Fatalf("double holder not caught: %v", err)
	}
	if err := m.Released("a", 3); err != nil {
		t.Fatal(err)
	}
	if err := m.Acquired("b", 4); err != nil {
		t.Fatal(err)
	}
	if err := m.Released("a", 5); err == nil {
		t.Error("release by a non-holder not caught")
	}
	if m.Acquisitions != 2 {
		t.Errorf("acquisitions %d", m.Acquisitions)
	}
}
