package kv

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/smilingraft/dsim/sim"
)

func TestStoreSemantics(t *testing.T) {
	s := NewStore()
	steps := []struct {
		op   Op
		want Result
	}{
		{Op{Kind: KindGet, Key: "k"}, Result{Err: ErrNoKey}},
		{Op{Kind: KindPut, Key: "k", Value: "a", Version: 1}, Result{Err: ErrNoKey}},
		{Op{Kind: KindPut, Key: "k", Value: "a", Version: 0}, Result{Err: OK, Version: 1}},
		{Op{Kind: KindGet, Key: "k"}, Result{Err: OK, Value: "a", Version: 1}},
		{Op{Kind: KindPut, Key: "k", Value: "b", Version: 0}, Result{Err: ErrVersion, Version: 1}},
		{Op{Kind: KindPut, Key: "k", Value: "b", Version: 7}, Result{Err: ErrVersion, Version: 1}},
		{Op{Kind: KindPut, Key: "k", Value: "b", Version: 1}, Result{Err: OK, Version: 2}},
		{Op{Kind: KindGet, Key: "k"}, Result{Err: OK, Value: "b", Version: 2}},
		{Op{Kind: 9, Key: "k"}, Result{Err: ErrBadRequest}},
		{Op{Kind: KindPut, Key: strings.Repeat("x", MaxKeyBytes+1)}, Result{Err: ErrBadRequest}},
	}
	for i, st := range steps {
		// Through the byte interface, as an RSM would call it.
		got, err := DecodeResult(s.DoOp(EncodeOp(st.op)))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if d := cmp.Diff(st.want, got); d != "" {
			t.Errorf("step %d %+v: (-want +got)\n%s", i, st.op, d)
		}
	}
	if s.Bytes() != len("k")+len("b")+entryOverhead {
		t.Errorf("Bytes = %d", s.Bytes())
	}
}

func TestQueryOnlyGets(t *testing.T) {
	s := NewStore()
	s.Put("k", "v", 0)
	r, _ := DecodeResult(s.Query(EncodeOp(Op{Kind: KindGet, Key: "k"})))
	if r != (Result{Err: OK, Value: "v", Version: 1}) {
		t.Errorf("Query Get = %+v", r)
	}
	r, _ = DecodeResult(s.Query(EncodeOp(Op{Kind: KindPut, Key: "k", Value: "w", Version: 1})))
	if r.Err != ErrBadRequest || s.Get("k").Value != "v" {
		t.Errorf("Query Put = %+v and applied it", r)
	}
}

func TestMalformedBytesNeverPanic(t *testing.T) {
	s := NewStore()
	r := sim.NewRand(1)
	good := EncodeOp(Op{Kind: KindPut, Key: "key", Value: "value", Version: 3})
	for i := 0; i < 20000; i++ {
		b := append([]byte(nil), good...)
		switch i % 3 {
		case 0: // truncate
			b = b[:r.Intn(len(b)+1)]
		case 1: // flip bytes
			for j := 0; j < 1+r.Intn(3); j++ {
				b[r.Intn(len(b))] ^= byte(1 + r.Intn(255))
			}
		case 2: // random bytes
			b = make([]byte, r.Intn(20))
			for j := range b {
				b[j] = byte(r.Intn(256))
			}
		}
		res, err := DecodeResult(s.DoOp(b))
		if err != nil {
			t.Fatalf("DoOp(%x) returned undecodable result: %v", b, err)
		}
		if _, derr := DecodeOp(b); derr != nil && res.Err != ErrBadRequest {
			t.Fatalf("DoOp(%x) = %+v, want ErrBadRequest", b, res)
		}
		_, _ = DecodeSnapshot(b)
		_, _ = DecodeResult(b)
	}
	if _, err := DecodeOp([]byte{byte(KindGet), 1, 'k', 0}); err == nil {
		t.Error("trailing bytes accepted")
	}
}

func TestSnapshotRoundTripDeterministic(t *testing.T) {
	a, b := NewStore(), NewStore()
	keys := []string{"z", "a", "m", "b", "y"}
	for i, k := range keys {
		a.Put(k, strings.Repeat(k, i), 0)
	}
	for i := len(keys) - 1; i >= 0; i-- { // another insertion order
		b.Put(keys[i], strings.Repeat(keys[i], i), 0)
	}
	a.Put("m", "again", 1)
	b.Put("m", "again", 1)
	if !bytes.Equal(a.Snapshot(), b.Snapshot()) {
		t.Fatal("snapshots of equal states differ")
	}
	c := NewStore()
	c.Put("junk", "x", 0)
	c.Restore(a.Snapshot())
	if d := cmp.Diff(a.Entries(), c.Entries()); d != "" {
		t.Errorf("restored state differs (-want +got)\n%s", d)
	}
	if c.Bytes() != a.Bytes() {
		t.Errorf("restored Bytes %d, want %d", c.Bytes(), a.Bytes())
	}
	c.Restore(nil)
	if c.Len() != 0 {
		t.Errorf("Restore(nil) left %d keys", c.Len())
	}
	if _, err := DecodeSnapshot(a.Snapshot()[:len(a.Snapshot())-1]); err == nil {
		t.Error("truncated snapshot accepted")
	}
}

// prog is a client node that runs a program against the KV once started.
type prog struct {
	servers []sim.NodeID
	cfg     ClerkConfig
	run     func(env *sim.Env, ck *Clerk)
}

func (p *prog) Start(env *sim.Env) {
	ck := NewClerk(env, p.servers, p.cfg)
	env.After(sim.Millisecond, func() { p.run(env, ck) })
}

func (p *prog) Receive(sim.NodeID, sim.Message) {}

func TestClerkUnreliableMaybe(t *testing.T) {
	w := sim.NewWorld(3, sim.Options{Net: sim.NetOptions{DelayMax: 5 * sim.Millisecond, Loss: sim.R(2, 10)}})
	srv := w.AddNode("s", func() sim.Node { return NewServer() })
	maybes, rounds := 0, 0
	w.AddNode("c", func() sim.Node {
		return &prog{servers: []sim.NodeID{srv}, cfg: ClerkConfig{Timeout: 30 * sim.Millisecond}, run: func(env *sim.Env, ck *Clerk) {
			var round func(i int, ver uint64)
			round = func(i int, ver uint64) {
				if i == 100 {
					return
				}
				ck.Put("k", "v"+string(rune('a'+i%26)), ver, func(err Err) {
					switch err {
					case OK:
					case ErrMaybe:
						maybes++
					default:
						t.Errorf("round %d: Put = %s", i, err)
					}
					ck.Get("k", func(_ string, v uint64, err Err) {
						if err != OK || v != ver+1 {
							t.Errorf("round %d: Get = v%d %s, want v%d", i, v, err, ver+1)
						}
						rounds++
						round(i+1, v)
					})
				})
			}
			round(0, 0)
		}}
	})
	w.RunFor(60 * sim.Second)
	if rounds != 100 || maybes == 0 {
		t.Fatalf("rounds %d, maybes %d; want 100 rounds and some ErrMaybe", rounds, maybes)
	}
	// The history holds every op, its input and output by pointer.
	h := w.History()
	if len(h) != 200 {
		t.Fatalf("history has %d ops, want 200", len(h))
	}
	if in, ok := h[0].Input.(*OpInput); !ok || in.Kind != KindPut || in.Key != "k" {
		t.Errorf("first op input %#v", h[0].Input)
	}
	if out, ok := h[1].Output.(*OpOutput); !ok || out.Version != 1 {
		t.Errorf("second op output %#v", h[1].Output)
	}
}

// A duplicated Put request must not make the clerk see ErrVersion for a
// Put that applied: the server answers the duplicate of the current
// version's writer OK.
func TestDuplicatePutAnsweredOK(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		w := sim.NewWorld(seed, sim.Options{Net: sim.NetOptions{DelayMax: 3 * sim.Millisecond, Dup: sim.R(1, 2), Loss: sim.R(1, 5)}})
		srv := w.AddNode("s", func() sim.Node { return NewServer() })
		bad := ""
		w.AddNode("c", func() sim.Node {
			return &prog{servers: []sim.NodeID{srv}, cfg: ClerkConfig{Timeout: 20 * sim.Millisecond}, run: func(env *sim.Env, ck *Clerk) {
				var round func(ver uint64)
				round = func(ver uint64) {
					if ver == 50 {
						return
					}
					ck.Put("k", "x", ver, func(err Err) {
						if err == ErrVersion {
							bad = "first-attempt ErrVersion for a Put nobody else could have beaten"
						}
						ck.Get("k", func(_ string, v uint64, _ Err) { round(v) })
					})
				}
				round(0)
			}}
		})
		w.RunFor(30 * sim.Second)
		if bad != "" {
			t.Fatalf("seed %d: %s", seed, bad)
		}
	}
}

func TestServerBadInput(t *testing.T) {
	var trace bytes.Buffer
	w := sim.NewWorld(1, sim.Options{Trace: &trace})
	srv := w.AddNode("s", func() sim.Node { return NewServer() })
	var got []sim.Message
	w.AddNode("c", func() sim.Node {
		return &prog{servers: []sim.NodeID{srv}, run: func(env *sim.Env, ck *Clerk) {
			for _, body := range []sim.Message{"junk", &PutArgs{Key: strings.Repeat("k", MaxKeyBytes+1)}, &GetArgs{Key: strings.Repeat("k", MaxKeyBytes+1)}} {
				env.Call(srv, body, sim.Second, func(r sim.Message, ok bool) { got = append(got, r) })
			}
			env.Send(srv, 42) // not even a request: dropped and logged
			ck.Put("k", "v", 0, func(Err) {
				ck.Put("k", "w", 99, func(err Err) { // a version from the future
					got = append(got, err)
				})
			})
		}}
	})
	w.RunFor(sim.Second)
	if w.Failure() != nil {
		t.Fatal(w.Failure())
	}
	_ = w.FlushTrace()
	want := []sim.Message{&BadReply{Err: ErrBadRequest}, &PutReply{Err: ErrBadRequest}, &GetReply{Err: ErrBadRequest}, ErrVersion}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("replies (-want +got)\n%s", d)
	}
	for _, line := range []string{"bad request string", "bad Put", "bad Get", "from the future", "not a request"} {
		if !strings.Contains(trace.String(), line) {
			t.Errorf("server log lacks %q", line)
		}
	}
}

// Ten clients take a lock over a lossy network; the test counts holders.
func TestLockMutualExclusion(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		w := sim.NewWorld(seed, sim.Options{Net: sim.NetOptions{DelayMax: 10 * sim.Millisecond, Loss: sim.R(1, 10)}})
		srv := w.AddNode("s", func() sim.Node { return NewServer() })
		holders, acquired := 0, 0
		for i := 0; i < 10; i++ {
			w.AddNode("c"+string(rune('0'+i)), func() sim.Node {
				return &prog{servers: []sim.NodeID{srv}, cfg: ClerkConfig{Timeout: 40 * sim.Millisecond}, run: func(env *sim.Env, ck *Clerk) {
					l := NewLock(env, ck, "l", 0)
					var loop func()
					loop = func() {
						l.Acquire(func() {
							holders++
							acquired++
							if holders > 1 {
								t.Errorf("seed %d: %d holders", seed, holders)
							}
							env.After(10*sim.Millisecond, func() {
								holders--
								l.Release(loop)
							})
						})
					}
					loop()
				}}
			})
		}
		w.RunFor(10 * sim.Second)
		if acquired < 20 {
			t.Errorf("seed %d: only %d acquisitions", seed, acquired)
		}
	}
}

// A Clerk records its input and output by pointer (no allocation to box
// them), so traces must still print them as the values they used to be:
// sim's trace prints a non-Stringer as "%T %+v".
func TestRecordedPointersPrintAsValues(t *testing.T) {
	in := OpInput{Client: 7, Tag: "t", Kind: KindPut, Key: "k", Value: "v", Version: 3}
	if got, want := (&in).String(), fmt.Sprintf("%T %+v", in, in); got != want {
		t.Errorf("input prints %q, want %q", got, want)
	}
	out := OpOutput{Value: "v", Version: 4, Err: ErrMaybe, Attempts: 2}
	if got, want := (&out).String(), fmt.Sprintf("%T %+v", out, out); got != want {
		t.Errorf("output prints %q, want %q", got, want)
	}
	for _, v := range []any{in, &in} {
		if got, ok := InputOf(v); !ok || got != in {
			t.Errorf("InputOf(%T) = %v, %v", v, got, ok)
		}
	}
	for _, v := range []any{out, &out} {
		if got, ok := OutputOf(v); !ok || got != out {
			t.Errorf("OutputOf(%T) = %v, %v", v, got, ok)
		}
	}
	if _, ok := InputOf(out); ok {
		t.Error("InputOf accepted an output")
	}
}

// DoOp's allocation-free Get path and ApplyOnly must behave exactly as the
// general decode-and-apply path: same results, same state.
func TestEncodedFastPathsMatchDecode(t *testing.T) {
	long := strings.Repeat("k", MaxKeyBytes+1)
	ops := [][]byte{
		EncodeOp(Op{Kind: KindPut, Key: "k", Value: "a", Version: 0}),
		EncodeOp(Op{Kind: KindGet, Key: "k"}),
		EncodeOp(Op{Kind: KindGet, Key: "missing"}),
		EncodeOp(Op{Kind: KindGet, Key: long}),
		append(EncodeOp(Op{Kind: KindGet, Key: "k"}), 0),                                                // trailing byte
		EncodeOp(Op{Kind: KindPut, Key: "n", Value: "x", Version: 3}),                                   // missing key
		EncodeOp(Op{Kind: KindPut, Key: "k2", Value: strings.Repeat("v", MaxValueBytes+1), Version: 0}), // oversized
		EncodeOp(Op{Kind: KindPut, Key: long, Value: "v", Version: 0}),                                  // oversized key
		append(EncodeOp(Op{Kind: KindPut, Key: "k3", Value: "v"}), 1),                                   // trailing byte
		EncodeOp(Op{Kind: KindPut, Key: "k3", Value: "v"})[:5],                                          // cut short
		EncodeOp(Op{Kind: KindPut, Key: "k4", Value: "v4"}),                                             // a new key
		EncodeOp(Op{Kind: KindPut, Key: "k4", Value: "", Version: 1}),
		{byte(KindGet)},    // no key
		{byte(KindGet), 5}, // key longer than the bytes
		{},
		{9, 0},
		EncodeOp(Op{Kind: KindPut, Key: "k", Value: "b", Version: 1}),
		EncodeOp(Op{Kind: KindPut, Key: "k", Value: "c", Version: 1}), // stale
		EncodeOp(Op{Kind: KindGet, Key: "k"}),
	}
	ref := func(s *Store, op []byte) []byte { // the general path
		o, err := DecodeOp(op)
		if err != nil {
			return EncodeResult(Result{Err: ErrBadRequest})
		}
		return EncodeResult(s.Apply(o))
	}
	a, b, c, d := NewStore(), NewStore(), NewStore(), NewStore()
	for i, op := range ops {
		want := ref(a, op)
		if got := b.DoOp(op); !bytes.Equal(got, want) {
			t.Errorf("op %d: DoOp = %q, want %q", i, got, want)
		}
		if got := d.AppendDoOp([]byte("old result"), op); !bytes.Equal(got, append([]byte("old result"), want...)) {
			t.Errorf("op %d: AppendDoOp = %q, want %q after the old result", i, got, want)
		}
		if len(op) > 0 && Kind(op[0]) == KindGet {
			if got := b.Query(op); !bytes.Equal(got, want) {
				t.Errorf("op %d: Query = %q, want %q", i, got, want)
			}
		}
		c.ApplyOnly(op)
		for _, x := range []*Store{b, c, d} {
			if !cmp.Equal(a.Entries(), x.Entries()) || a.Bytes() != x.Bytes() {
				t.Errorf("op %d: the fast paths left %v (%d bytes), decoding %v (%d bytes)", i, x.Entries(), x.Bytes(), a.Entries(), a.Bytes())
			}
		}
	}
}
