package sim

import (
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
)

// Virtual time saturates at the ends of int64, never wraps: a time past the
// end of time is "never", not a moment in the distant past.
func TestTimeArithmeticSaturates(t *testing.T) {
	for _, c := range []struct {
		t    Time
		d    Duration
		want Time
	}{
		{0, math.MaxInt64, MaxTime},
		{Time(Second), math.MaxInt64, MaxTime},
		{MaxTime, 1, MaxTime},
		{MaxTime - 5, 10, MaxTime},
		{-5, math.MinInt64, MinTime},
		{MinTime, -1, MinTime},
		{Time(Second), -Second, 0},
		{Time(Second), 2 * Second, Time(3 * Second)},
	} {
		if got := c.t.Add(c.d); got != c.want {
			t.Errorf("%d.Add(%d) = %d, want %d", c.t, c.d, got, c.want)
		}
	}
	if got := MaxTime.Sub(MinTime); got != math.MaxInt64 {
		t.Errorf("MaxTime.Sub(MinTime) = %d", got)
	}
	if got := MinTime.Sub(MaxTime); got != math.MinInt64 {
		t.Errorf("MinTime.Sub(MaxTime) = %d", got)
	}
	if got := trueDuration(math.MaxInt64, -500_000); got != math.MaxInt64 {
		t.Errorf("trueDuration(MaxInt64, -50%%) = %d, want saturation", got)
	}
	// Exact: ceil(d * 1e6 / (1e6+ppm)), saturated, computed with big ints.
	for _, d := range []Duration{1, 999, Second, 3 * Hour, math.MaxInt64 / 1_000_000, math.MaxInt64 / 3} {
		for _, ppm := range []int64{-999_999, -1, 1, 500_000, 999_999} {
			rate := big.NewInt(1_000_000 + ppm)
			want := new(big.Int).Mul(big.NewInt(int64(d)), big.NewInt(1_000_000))
			want.Add(want, new(big.Int).Sub(rate, big.NewInt(1))).Quo(want, rate)
			if !want.IsInt64() {
				want.SetInt64(math.MaxInt64)
			}
			if got := trueDuration(d, ppm); int64(got) != want.Int64() {
				t.Errorf("trueDuration(%d, %d) = %d, want %d", d, ppm, got, want.Int64())
			}
		}
	}
}

// A clog, jump or flaky delay of MaxInt64 must leave time moving forward: the
// message arrives "never", the run ends on time. Before saturation the delay
// wrapped to a time in the past and the run spun until a watchdog killed it.
func TestHugeDelaysDoNotWrapTime(t *testing.T) {
	for _, a := range []Action{
		{At: 0, Kind: ActClog, Node: 0, Delay: math.MaxInt64, For: math.MaxInt64},
		{At: 0, Kind: ActClog, Node: 1, Delay: math.MaxInt64 / 2, For: Second},
		{At: 0, Kind: ActJump, Node: 0, Delay: math.MaxInt64},
		{At: 0, Kind: ActJump, Node: 0, Delay: math.MinInt64 + 1},
		{At: 0, Kind: ActNet, Net: &NetOptions{DelayMin: math.MaxInt64 - 1, DelayMax: math.MaxInt64, Tail: R(1, 1), TailMax: math.MaxInt64}},
		{At: math.MaxInt64, Kind: ActCrash, Node: 0},
	} {
		w := NewWorld(1, Options{MaxEvents: 100_000})
		var last Time
		backwards := false
		w.AfterEvent(func() {
			if w.Now() < last {
				backwards = true
			}
			last = w.Now()
		})
		ping := func(r *rec) {
			var tick func()
			tick = func() {
				r.env.Send(1-r.env.p.id, "ping")
				r.env.After(10*Millisecond, tick)
			}
			r.env.After(Millisecond, tick)
		}
		w.AddNode("a", func() Node { return &rec{start: ping} })
		w.AddNode("b", func() Node { return &rec{start: ping} })
		w.Schedule(Plan{a}, []NodeID{0, 1})
		start := time.Now()
		w.RunUntil(Time(2 * Second))
		if f := w.Failure(); f != nil {
			t.Errorf("%v: failed: %v", a, f)
		}
		if backwards || w.Now() != Time(2*Second) {
			t.Errorf("%v: time went backwards=%v, now %v", a, backwards, w.Now())
		}
		if a.Kind == ActJump && a.Delay > 0 && w.LocalNow(0) < Time(2*Second) {
			t.Errorf("%v: a forward jump moved the local clock back to %d", a, w.LocalNow(0))
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("%v: 2s of virtual time took %v", a, el)
		}
	}
}

// Plan.Validate refuses every field a scenario cannot honour: before, a
// negative delay, a ratio over zero, or delay_min above delay_max passed and
// misbehaved at run time.
func TestPlanValidateRefusesNonsense(t *testing.T) {
	net := func(o NetOptions) *NetOptions { return &o }
	for _, c := range []struct {
		a    Action
		want string
	}{
		{Action{Kind: ActCrash, Node: 3}, "node"},
		{Action{Kind: ActCrash, Node: -1}, "node"},
		{Action{Kind: ActFlaky, Node: 0, Peer: 3, Ratio: R(1, 2)}, "node"},
		{Action{Kind: ActLinks, Cuts: [][2]int{{0, 3}}}, "cut"},
		{Action{Kind: ActLinks, Cuts: [][2]int{{-1, 0}}}, "cut"},
		{Action{Kind: ActCrash, At: -1}, "time"},
		{Action{Kind: ActClog, Delay: -Second, For: Second}, "delay"},
		{Action{Kind: ActClog, Delay: Second, For: -Second}, "for_ns"},
		{Action{Kind: ActFlaky, Node: 0, Peer: 1, Ratio: R(1, 0)}, "ratio"},
		{Action{Kind: ActDrift, PPM: 1_000_000}, "drift"},
		{Action{Kind: ActDrift, PPM: -1_000_000}, "drift"},
		{Action{Kind: ActNet}, "net"},
		{Action{Kind: ActNet, Net: net(NetOptions{DelayMin: 2 * Second, DelayMax: Second})}, "delay_min"},
		{Action{Kind: ActNet, Net: net(NetOptions{DelayMin: -Second})}, "delay_min"},
		{Action{Kind: ActNet, Net: net(NetOptions{DelayMax: -Second})}, "delay"},
		{Action{Kind: ActNet, Net: net(NetOptions{TailMax: -Second})}, "tail_max"},
		{Action{Kind: ActNet, Net: net(NetOptions{Loss: R(1, 0)})}, "loss"},
		{Action{Kind: ActNet, Net: net(NetOptions{Dup: R(3, 0)})}, "dup"},
		{Action{Kind: ActNet, Net: net(NetOptions{Reorder: R(1, 0)})}, "reorder"},
		{Action{Kind: ActNet, Net: net(NetOptions{Tail: R(1, 0)})}, "tail"},
		{Action{Kind: ActCrash, Ref: -1}, "ref"},
		{Action{Kind: ActCrash, ID: -1}, "id"},
		{Action{Kind: ActCrash, Node: 0, Peer: 5}, "node"},
	} {
		err := (Plan{c.a}).Validate(3)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: %v; want one line mentioning %q", c.a, err, c.want)
		}
	}
	// Zero ratios mean "never" and are fine; so are huge but meaningful
	// values (time saturates) and a backwards jump.
	ok := Plan{
		{Kind: ActFlaky, Node: 0, Peer: 2, Ratio: Ratio{}},
		{Kind: ActClog, Node: 1, Delay: math.MaxInt64, For: math.MaxInt64},
		{Kind: ActJump, Node: 1, Delay: -Second},
		{Kind: ActNet, Net: net(NetOptions{DelayMin: Second, DelayMax: Second, Loss: R(5, 3)})},
		{Kind: ActCrash, At: math.MaxInt64, Node: 2},
	}
	if err := ok.Validate(3); err != nil {
		t.Errorf("valid plan refused: %v", err)
	}
}

// Faults.Validate refuses knobs the generator cannot use: a ratio over zero,
// negative durations, drift at or past 100%, a step so short the plan would
// be millions of actions long.
func TestFaultsValidateRefusesNonsense(t *testing.T) {
	good := Swarm(NewRand(5), AllKinds())
	if err := good.Validate(); err != nil {
		t.Fatalf("a swarm draw refused: %v", err)
	}
	if err := (Faults{}).Validate(); err != nil {
		t.Fatalf("zero faults refused: %v", err)
	}
	for _, c := range []struct {
		edit func(*Faults)
		want string
	}{
		{func(f *Faults) { f.Step = -1 }, "step"},
		{func(f *Faults) { f.Step = Nanosecond }, "step"},
		{func(f *Faults) { f.Network.Partition = R(1, 0) }, "partition"},
		{func(f *Faults) { f.Network.Base.DelayMin, f.Network.Base.DelayMax = Second, Millisecond }, "delay_min"},
		{func(f *Faults) { f.Network.ClogMax = -Second }, "clog_max"},
		{func(f *Faults) { f.Process.MaxDown = -1 }, "max_down"},
		{func(f *Faults) { f.Process.CrashStability = -Second }, "crash_stability"},
		{func(f *Faults) { f.Disk.Torn = R(2, 0) }, "torn"},
		{func(f *Faults) { f.Clock.DriftMaxPPM = 1_000_000 }, "drift_max_ppm"},
		{func(f *Faults) { f.Clock.JumpMax = -Second }, "jump_max"},
	} {
		f := good
		c.edit(&f)
		err := f.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error mentioning it", c.want, err)
		}
	}
}
