package rsm

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/smilingraft/dsim/sim"
)

// parseOp's in-place split must agree with the strings.Fields reference
// (parseFields) on every op, the workloads' and malformed ones alike.
func TestParseOpMatchesFields(t *testing.T) {
	ops := []string{
		"inc", "get", "null", "dec", "inc 1 2", " inc\t1\n2 ", "null 3 18446744073709551615",
		"inc 1 18446744073709551616", "inc 0 5", "inc 1", "inc 1 2 3", "", "   ", "inc +1 2", "inc 1 -2",
		"inc 1_0 2", "inc 01 002", "xyz", "inc 1 2x", "inc\v1\f2\r", "inc\u00a01 2", "inc 1\u0085 2",
		"é", "inc 1 é", "inc 12345678901234567890 1", "inc 1234567890123456789 1", "get\x00",
	}
	for i := uint64(0); i < 50; i++ {
		ops = append(ops, "inc "+strconv.FormatUint(i*7919+1, 10)+" "+strconv.FormatUint(i*104729, 10))
	}
	for _, op := range ops {
		v1, c1, s1, ok1 := parseOp([]byte(op))
		v2, c2, s2, ok2 := parseFields([]byte(op))
		if v1 != v2 || c1 != c2 || s1 != s2 || ok1 != ok2 {
			t.Errorf("parseOp(%q) = %q %d %d %v, strings.Fields gives %q %d %d %v", op, v1, c1, s1, ok1, v2, c2, s2, ok2)
		}
	}
	if n := testing.AllocsPerRun(100, func() { parseOp([]byte("inc 12 345")) }); n != 0 {
		t.Errorf("parseOp of a workload op allocates %v times", n)
	}
}

// taggedOp builds what fmt's "%s %d %d" did.
func TestTaggedOp(t *testing.T) {
	for _, c := range []struct {
		verb        string
		client, seq uint64
	}{{"inc", 1, 1}, {"null", 12345, 0}, {"dec", 18446744073709551615, 18446744073709551615}} {
		if got, want := string(taggedOp(c.verb, c.client, c.seq)), fmt.Sprintf("%s %d %d", c.verb, c.client, c.seq); got != want {
			t.Errorf("taggedOp = %q, want %q", got, want)
		}
	}
}

// AppendDoOp answers and changes the counter exactly as DoOp does.
func TestCounterAppendDoOp(t *testing.T) {
	w := sim.NewWorld(1, sim.Options{})
	var env *sim.Env
	w.AddNode("n", func() sim.Node { return envGrabber{&env} })
	w.RunFor(sim.Millisecond)
	a, b := newCounter(env, 0), newCounter(env, 1)
	buf := []byte("stale")
	for _, op := range []string{"inc 1 1", "inc 1 2", "get", "null 2 1", "inc 2 2", "junk op", "inc 3 1", "bogus"} {
		want := a.DoOp([]byte(op))
		got := b.AppendDoOp(buf[:0], []byte(op))
		if string(got) != string(want) {
			t.Errorf("%q: AppendDoOp = %q, DoOp = %q", op, got, want)
		}
		if len(got) > 0 {
			buf = got
		}
	}
	if a.n != b.n || len(a.last) != len(b.last) || a.runs != b.runs {
		t.Errorf("states differ: %d %v %d vs %d %v %d", a.n, a.last, a.runs, b.n, b.last, b.runs)
	}
}

// envGrabber is a node that hands out its env.
type envGrabber struct{ env **sim.Env }

func (g envGrabber) Start(env *sim.Env)              { *g.env = env }
func (g envGrabber) Receive(sim.NodeID, sim.Message) {}
