// Package proptest draws fault plans through rapid (so rapid shrinks the
// choices themselves: how many actions, which kind, which node, when, for how
// long) and decodes fuzzer bytes into (seed, plan), so that any registered
// scenario gets a property test and a Go native fuzz target in one line:
//
//	func TestRaftBasicProperty(t *testing.T) { proptest.Check(t, "raft/basic", proptest.ProcessKinds) }
//	func FuzzRaftBasic(f *testing.F)          { proptest.Fuzz(f, "raft/basic", proptest.AllKinds) }
//
// A property fails when the scenario's run fails (any checker). rapid's own
// flags work as usual: -rapid.checks, -rapid.seed, and failing cases saved
// under testdata/rapid/ and replayed first next time (-rapid.failfile).
//
// It may import sim, scenarios, replay and rapid.
package proptest

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/smilingraft/dsim/replay"
	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// Action kinds the generators may draw. A crash or pause is drawn with its
// own restart or resume after a drawn downtime.
var (
	// ProcessKinds are process faults only.
	ProcessKinds = []string{sim.ActCrash}
	// AllKinds are every fault kind the generators know except disk wipes
	// (amnesia breaks most protocols by design; add sim.ActWipe to ask):
	// long and short crashes, crash points, pauses, isolation, flaky links,
	// clogs, heals, clock drift and jumps.
	AllKinds = []string{sim.ActCrash, KindShortCrash, sim.ActCrashPoint, sim.ActPause, sim.ActIsolate,
		sim.ActFlaky, sim.ActClog, sim.ActHeal, sim.ActDrift, sim.ActJump}
	// ShortKinds are the crashes a scenario with timing bounds of its own
	// (the lab tests: agreement within 10 s) must survive: crashes that last
	// at most sim.ShortDownMax, and crash points (a crash right after a send,
	// preferably of the scenario's promise messages, or around a disk
	// operation) with the same short downtime. They reach the window between
	// a promise and its Sync that random-instant crashes almost never hit.
	ShortKinds = []string{KindShortCrash, sim.ActCrashPoint}
	// NetKinds are network faults only: isolation, flaky links, clogs and
	// heals.
	NetKinds = []string{sim.ActIsolate, sim.ActFlaky, sim.ActClog, sim.ActHeal}
)

// KindShortCrash is a generator-only kind: a crash and its restart at most
// sim.ShortDownMax later (plans hold the two sim.ActCrash/ActRestart actions).
const KindShortCrash = "crash-short"

// Spec describes the plans to draw for one scenario.
type Spec struct {
	// Targets is the number of fault targets (the scenario's servers).
	Targets int
	// Duration is the fault phase; every action happens inside it.
	Duration sim.Duration
	// Kinds are the action kinds to draw from.
	Kinds []string
	// MaxActions bounds the drawn faults (default 8).
	MaxActions int
	// Horizon, when set and shorter than Duration, is where the actions
	// start: the end of a scripted scenario's script (it stops the world
	// there, long before its fault phase ends), so that drawn faults land
	// while the script works. SpecFor measures it on an unfaulted run.
	Horizon sim.Duration
	// PointMsgs are the message types send crash points prefer
	// (comma-separated, as sim.ProcessFaults.PointMsgs); SpecFor takes them
	// from the scenario's own faults.
	PointMsgs string
}

// Targets returns how many fault targets scenario s declares with variant v,
// by running its Setup on a throwaway world.
func Targets(s *scenarios.Scenario, v scenarios.Variant) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = targetsByProbe(s, v)
		}
	}()
	w := sim.NewWorld(0, sim.Options{MaxEvents: 1})
	c := &scenarios.Cluster{W: w, Scenario: s, Variant: v, Workload: w.Rand("workload")}
	if err := s.Setup(c); err != nil {
		return 0, fmt.Errorf("%s: setup: %w", s.Name, err)
	}
	return len(c.Targets()), nil
}

var outOfRange = regexp.MustCompile(`out of range 0\.\.(-?\d+)`)

// targetsByProbe asks the runner itself: a plan naming a huge node index is
// rejected with the valid range.
func targetsByProbe(s *scenarios.Scenario, v scenarios.Variant) (int, error) {
	p := sim.Plan{{Kind: sim.ActCrash, Node: 1 << 30}}
	res := scenarios.Run(s, v, 0, scenarios.Config{Plan: &p})
	if res.Failure != nil {
		if m := outOfRange.FindStringSubmatch(res.Failure.Message); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n + 1, nil
		}
	}
	return 0, fmt.Errorf("%s: cannot tell its number of fault targets", s.Name)
}

// SpecFor returns the plan spec of a registered scenario: its fault
// targets, its fault phase, the message types its crash points aim at, and
// its horizon (where an unfaulted seed-0 run stopped, when the scenario's
// script stops the world before its fault phase ends). Specs are cached per
// scenario, variant and kinds: the probe runs once per process.
func SpecFor(name string, v scenarios.Variant, kinds []string) (*scenarios.Scenario, Spec, error) {
	s, err := scenarios.Lookup(name)
	if err != nil {
		return nil, Spec{}, err
	}
	key := fmt.Sprintf("%s\x00%s", name, v.String())
	specMu.Lock()
	base, ok := specCache[key]
	specMu.Unlock()
	if !ok {
		n, err := Targets(s, v)
		if err != nil {
			return nil, Spec{}, err
		}
		base = Spec{Targets: n, Duration: s.Duration}
		if s.Kinds != nil {
			base.PointMsgs = s.Kinds.PointMsgs
		} else if f := s.FaultsFor(v, 0); f != nil {
			base.PointMsgs = f.Process.PointMsgs
		}
		if s.Duration > 0 {
			p := sim.Plan{}
			if res := scenarios.Run(s, v, 0, scenarios.Config{Plan: &p}); sim.Duration(res.VTime) < s.Duration {
				base.Horizon = sim.Duration(res.VTime)
			}
		}
		specMu.Lock()
		specCache[key] = base
		specMu.Unlock()
	}
	sp := base
	sp.Kinds = kinds
	return s, sp, nil
}

var (
	specMu    sync.Mutex
	specCache = map[string]Spec{}
)

// PlanGen draws a fault plan action by action, every choice a labelled draw.
func PlanGen(sp Spec) *rapid.Generator[sim.Plan] {
	max := sp.MaxActions
	if max <= 0 {
		max = 8
	}
	ms := int64(sp.Duration / sim.Millisecond)
	horizon := sp.horizonMs()
	return rapid.Custom(func(t *rapid.T) sim.Plan {
		// Draw the count first, always: rapid refuses a generator that
		// draws nothing (a scenario without fault targets or fault phase).
		n := rapid.IntRange(0, max).Draw(t, "actions")
		if sp.Targets <= 0 || ms <= 1 || len(sp.Kinds) == 0 {
			return sim.Plan{}
		}
		b := planBuilder{sp: sp}
		for i := 0; i < n; i++ {
			kind := rapid.SampledFrom(sp.Kinds).Draw(t, "kind")
			node := rapid.IntRange(0, sp.Targets-1).Draw(t, "node")
			at := rapid.Int64Range(0, horizon-1).Draw(t, "at_ms")
			length := rapid.Int64Range(1, ms).Draw(t, "for_ms")
			b.add(kind, node, at, length, rapid.IntRange(0, 255).Draw(t, "param"))
		}
		return b.plan()
	})
}

// planBuilder turns drawn choices into valid actions (shared by the rapid
// generator and the fuzz decoder: one description, two sources of choices).
type planBuilder struct {
	sp Spec
	p  sim.Plan
	id int
}

func (b *planBuilder) add(kind string, node int, atMs, lenMs int64, param int) {
	ms := int64(b.sp.Duration / sim.Millisecond)
	at := sim.Duration(atMs) * sim.Millisecond
	end := sim.Duration(atMs+lenMs) * sim.Millisecond
	if atMs+lenMs >= ms {
		end = b.sp.Duration - 1
	}
	peer := (node + 1 + param%max1(b.sp.Targets-1)) % b.sp.Targets
	switch kind {
	case sim.ActCrash, sim.ActPause, sim.ActWipe:
		b.id++
		back := sim.ActRestart
		if kind == sim.ActPause {
			back = sim.ActResume
		}
		b.p = append(b.p, sim.Action{ID: b.id, At: at, Kind: kind, Node: node},
			sim.Action{At: end, Kind: back, Ref: b.id})
	case sim.ActIsolate:
		b.p = append(b.p, sim.Action{At: at, Kind: kind, Node: node}, sim.Action{At: end, Kind: sim.ActHeal})
	case sim.ActFlaky:
		if b.sp.Targets < 2 {
			return
		}
		b.p = append(b.p, sim.Action{At: at, Kind: kind, Node: node, Peer: peer, Ratio: sim.R(uint32(20+param%80), 100)},
			sim.Action{At: end, Kind: kind, Node: node, Peer: peer})
	case sim.ActClog:
		b.p = append(b.p, sim.Action{At: at, Kind: kind, Node: node, Delay: sim.Duration(1+param) * sim.Millisecond, For: end - at})
	case sim.ActDrift:
		b.p = append(b.p, sim.Action{At: at, Kind: kind, Node: node, PPM: int64(param-128) * 1000},
			sim.Action{At: end, Kind: kind, Node: node})
	case sim.ActJump:
		b.p = append(b.p, sim.Action{At: at, Kind: kind, Node: node, Delay: sim.Duration(param-128) * 4 * sim.Millisecond})
	case sim.ActHeal:
		b.p = append(b.p, sim.Action{At: at, Kind: kind})
	case KindShortCrash:
		b.id++
		back := at + short(lenMs)
		if back >= b.sp.Duration {
			back = b.sp.Duration - 1
		}
		b.p = append(b.p, sim.Action{ID: b.id, At: at, Kind: sim.ActCrash, Node: node},
			sim.Action{At: back, Kind: sim.ActRestart, Ref: b.id})
	case sim.ActCrashPoint:
		op := pointOps[param%len(pointOps)]
		a := sim.Action{At: at, Kind: sim.ActCrashPoint, Node: node, On: op.on, Before: op.before,
			Nth: 1 + (param/len(pointOps))%4, Delay: end - at, For: short(lenMs)}
		if msgs := strings.Split(b.sp.PointMsgs, ","); op.on == sim.OnSend && b.sp.PointMsgs != "" && param&0x40 != 0 {
			a.Msg = msgs[(param>>3)%len(msgs)]
		}
		b.p = append(b.p, a)
	}
}

// short maps a drawn length to a short downtime, 1ms..sim.ShortDownMax.
func short(lenMs int64) sim.Duration {
	max := int64(sim.ShortDownMax / sim.Millisecond)
	return sim.Duration(1+(lenMs-1)%max) * sim.Millisecond
}

// pointOps are the operations a drawn crash point fires on, sends weighted
// up as in the nemesis (most promises leave in messages).
var pointOps = []struct {
	on     string
	before bool
}{
	{sim.OnSend, false}, {sim.OnSend, false}, {sim.OnSend, false},
	{sim.OnSync, true}, {sim.OnSync, false}, {sim.OnWrite, false}, {sim.OnAppend, false},
	{sim.OnRename, true}, {sim.OnRename, false},
}

// horizonMs is the span, in ms, where actions start.
func (sp Spec) horizonMs() int64 {
	ms := int64(sp.Duration / sim.Millisecond)
	if h := int64(sp.Horizon / sim.Millisecond); h > 1 && h < ms {
		return h
	}
	return ms
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

func (b *planBuilder) plan() sim.Plan {
	p := b.p
	if p == nil {
		p = sim.Plan{}
	}
	p.Sort()
	return p
}

// DecodePlan maps fuzzer bytes to a seed and a plan: 8 bytes of seed, then
// either 7 bytes per action (kind, node, at, length, parameter), or, when
// the byte after the seed is '[', an explicit plan as JSON (EncodePlan: how
// failure files seed a fuzz target exactly). Every input decodes to a valid
// plan: explicit plans that do not parse, do not validate against the
// spec's targets or hold a kind outside the spec's families (Allowed) are
// read as action records instead.
func DecodePlan(data []byte, sp Spec) (uint64, sim.Plan) {
	var seedBytes [8]byte
	n := copy(seedBytes[:], data)
	seed := binary.LittleEndian.Uint64(seedBytes[:])
	data = data[n:]
	if len(data) > 0 && data[0] == '[' {
		if p, ok := exactPlan(data, sp); ok {
			return seed, p
		}
	}
	b := planBuilder{sp: sp}
	ms := int64(sp.Duration / sim.Millisecond)
	if sp.Targets <= 0 || ms <= 1 || len(sp.Kinds) == 0 {
		return seed, sim.Plan{}
	}
	for i := 0; len(data) >= 7 && i < 64; i++ {
		kind := sp.Kinds[int(data[0])%len(sp.Kinds)]
		node := int(data[1]) % sp.Targets
		at := int64(binary.LittleEndian.Uint16(data[2:4])) % sp.horizonMs()
		length := 1 + int64(binary.LittleEndian.Uint16(data[4:6]))%ms
		b.add(kind, node, at, length, int(data[6]))
		data = data[7:]
	}
	return seed, b.plan()
}

// EncodePlan is DecodePlan's inverse for explicit plans: the fuzz input
// that decodes to exactly (seed, plan) under any spec whose targets and
// kind families admit the plan.
func EncodePlan(seed uint64, plan sim.Plan) []byte {
	b := binary.LittleEndian.AppendUint64(nil, seed)
	if plan == nil {
		plan = sim.Plan{}
	}
	j, err := json.Marshal(plan)
	if err != nil {
		panic(fmt.Sprintf("proptest: a plan that does not marshal: %v", err))
	}
	return append(b, j...)
}

func exactPlan(data []byte, sp Spec) (sim.Plan, bool) {
	var p sim.Plan
	if err := json.Unmarshal(data, &p); err != nil || p == nil {
		return nil, false
	}
	if sp.Targets <= 0 || p.Validate(sp.Targets) != nil {
		return nil, false
	}
	for _, a := range p {
		if !Allowed(a.Kind, sp.Kinds) {
			return nil, false
		}
	}
	p.Sort()
	return p, true
}

// families maps every action kind a plan may hold to the drawable kinds
// that admit it: an explicit plan (a failure file seeding a fuzz target)
// may only use faults of the families its target asks for, so that a
// target of crashes never runs, say, a disk wipe or a clock jump.
var families = map[string][]string{
	sim.ActCrash:      {sim.ActCrash, KindShortCrash, sim.ActWipe},
	sim.ActRestart:    {sim.ActCrash, KindShortCrash, sim.ActWipe, sim.ActCrashPoint},
	sim.ActCrashPoint: {sim.ActCrashPoint},
	sim.ActPause:      {sim.ActPause},
	sim.ActResume:     {sim.ActPause},
	sim.ActWipe:       {sim.ActWipe},
	sim.ActCorrupt:    {sim.ActCorrupt},
	sim.ActIsolate:    {sim.ActIsolate},
	sim.ActLinks:      {sim.ActIsolate},
	sim.ActHeal:       {sim.ActHeal, sim.ActIsolate, sim.ActFlaky},
	sim.ActFlaky:      {sim.ActFlaky},
	sim.ActNet:        {sim.ActFlaky},
	sim.ActClog:       {sim.ActClog},
	sim.ActDrift:      {sim.ActDrift},
	sim.ActJump:       {sim.ActJump},
}

// Allowed reports whether an explicit plan action of kind may run under a
// target drawing kinds: crashes and their restarts under crash kinds, crash
// points under sim.ActCrashPoint, link shapes (links) under isolation,
// network-wide loss and delay (net) under flaky links, and so on.
func Allowed(kind string, kinds []string) bool {
	for _, f := range families[kind] {
		for _, k := range kinds {
			if k == f {
				return true
			}
		}
	}
	return false
}

// run runs one drawn case.
func run(s *scenarios.Scenario, seed uint64, plan sim.Plan) *scenarios.Result {
	p := append(sim.Plan{}, plan...)
	return scenarios.Run(s, scenarios.Variant{}, seed, scenarios.Config{Plan: &p})
}

func describe(res *scenarios.Result) string {
	b, _ := json.Marshal(res.Plan)
	return fmt.Sprintf("%s seed %d: %s\nplan: %s", res.Scenario, res.Seed, res.Failure.Error(), b)
}

// Property returns the rapid property "scenario name passes with a drawn
// seed and a drawn plan of the given kinds". onFail, when set, sees each
// failing result (the last one is rapid's minimal case).
func Property(name string, kinds []string, onFail func(*scenarios.Result)) func(*rapid.T) {
	s, sp, err := SpecFor(name, scenarios.Variant{}, kinds)
	return func(t *rapid.T) {
		if err != nil {
			t.Fatalf("proptest: %v", err)
		}
		seed := rapid.Uint64Range(0, 1<<16).Draw(t, "seed")
		plan := PlanGen(sp).Draw(t, "plan")
		res := run(s, seed, plan)
		if res.Failure != nil {
			if onFail != nil {
				onFail(res)
			}
			t.Fatalf("%s", describe(res))
		}
	}
}

// Check is the one-line property test of a scenario, with rapid's own
// budget (100 cases, a fifth with -short, or -rapid.checks / RAPID_CHECKS).
//
// Without -rapid.seed (or RAPID_SEED) it draws from a fixed seed, so that
// go test ./... draws the same cases on every run: a property test that
// fails by the clock is a defect. The nightly job explores with other seeds.
func Check(t *testing.T, name string, kinds []string) {
	t.Helper()
	flagMu.Lock()
	defer flagMu.Unlock()
	defer pinSeed()()
	rapid.Check(t, Property(name, kinds, nil))
}

// pinSeed fixes rapid's seed to PinnedSeed unless the user chose one, and
// returns what restores it.
func pinSeed() func() {
	if _, ok := os.LookupEnv("RAPID_SEED"); ok {
		return func() {}
	}
	if f := flag.Lookup("rapid.seed"); f != nil && f.Value.String() == "0" {
		return setFlag("rapid.seed", strconv.Itoa(PinnedSeed))
	}
	return func() {}
}

// PinnedSeed is the rapid seed Check and CheckN draw from when none was
// chosen.
const PinnedSeed = 1

// CheckN is Check with a budget of checks cases, so that a package of
// property tests stays cheap in go test ./... (rapid still divides it by 5
// under -short). An explicit -rapid.checks flag or RAPID_CHECKS in the
// environment overrides it: that is how the nightly job runs every
// property test with many more cases.
func CheckN(t *testing.T, name string, kinds []string, checks int) {
	t.Helper()
	if checks <= 0 || checksChosen() {
		Check(t, name, kinds)
		return
	}
	flagMu.Lock()
	defer flagMu.Unlock()
	defer setFlag("rapid.checks", strconv.Itoa(checks))()
	defer pinSeed()()
	rapid.Check(t, Property(name, kinds, nil))
}

// checksChosen reports whether the user chose rapid's number of checks, on
// the command line or in the environment.
func checksChosen() bool {
	if _, ok := os.LookupEnv("RAPID_CHECKS"); ok {
		return true
	}
	chosen := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "rapid.checks" {
			chosen = true
		}
	})
	return chosen
}

var flagMu sync.Mutex

// Find runs rapid on the property of scenario name without failing the
// caller, and returns rapid's minimal failing case (nil if none was found
// within checks cases). It is how a test asserts that rapid finds a bug on
// its own. Fail files are not written; without -rapid.seed it draws from
// seed 3, so its answer is the same on every run (rapid seeds 1 and 2 stop
// shrinking counter/unsafe-nosync at 6 actions, 3..7 reach the 2-action case).
func Find(name string, kinds []string, checks int) (*scenarios.Result, error) {
	return FindWith(name, kinds, FindOptions{Checks: checks})
}

// FindOptions bound a Find.
type FindOptions struct {
	// Checks is the number of cases to try (0: rapid's default).
	Checks int
	// ShrinkTime bounds rapid's shrinking of the first failing case (0:
	// rapid's default, 30 s); the case returned is the smallest reached.
	ShrinkTime time.Duration
}

// FindWith is Find with options: a test that shows an unsafe variant is
// found bounds both the search and the shrinking, so it stays cheap.
func FindWith(name string, kinds []string, o FindOptions) (*scenarios.Result, error) {
	if _, err := scenarios.Lookup(name); err != nil {
		return nil, err
	}
	flagMu.Lock()
	defer flagMu.Unlock()
	restore := setFlag("rapid.nofailfile", "true")
	defer restore()
	if o.Checks > 0 {
		n := o.Checks
		if testing.Short() {
			// rapid tries a fifth of -rapid.checks under -short; Checks
			// is this search's budget, not a thoroughness setting.
			n *= 5
		}
		defer setFlag("rapid.checks", strconv.Itoa(n))()
	}
	if o.ShrinkTime > 0 {
		defer setFlag("rapid.shrinktime", o.ShrinkTime.String())()
	}
	// Find is deterministic like everything else in dsim: unless the user
	// chose -rapid.seed, rapid draws from a fixed seed (its default is the
	// clock, which made the size of the shrunk case vary run to run).
	if f := flag.Lookup("rapid.seed"); f != nil && f.Value.String() == "0" {
		defer setFlag("rapid.seed", "3")()
	}
	var last *scenarios.Result
	stub := &stubTB{name: "proptest.Find/" + name}
	rapid.Check(stub, Property(name, kinds, func(r *scenarios.Result) { last = r }))
	if !stub.failed {
		return nil, nil
	}
	if last == nil {
		// The property failed without a failing run (a bad spec, a
		// generator rapid refused): that is an error, never "nothing found".
		return nil, fmt.Errorf("proptest.Find(%s): %s", name, strings.Join(stub.logs, "; "))
	}
	return last, nil
}

func setFlag(name, value string) func() {
	f := flag.Lookup(name)
	if f == nil {
		return func() {}
	}
	old := f.Value.String()
	_ = f.Value.Set(value)
	return func() { _ = f.Value.Set(old) }
}

// stubTB is a rapid.TB that records failure instead of failing a test.
type stubTB struct {
	name   string
	failed bool
	logs   []string
}

func (s *stubTB) Helper()      {}
func (s *stubTB) Name() string { return s.name }
func (s *stubTB) Logf(format string, args ...any) {
	s.logs = append(s.logs, fmt.Sprintf(format, args...))
}
func (s *stubTB) Log(args ...any)                   { s.logs = append(s.logs, fmt.Sprint(args...)) }
func (s *stubTB) Skipf(format string, args ...any)  {}
func (s *stubTB) Skip(args ...any)                  {}
func (s *stubTB) SkipNow()                          {}
func (s *stubTB) Errorf(format string, args ...any) { s.failed = true; s.Logf(format, args...) }
func (s *stubTB) Error(args ...any)                 { s.failed = true; s.Log(args...) }
func (s *stubTB) Fatalf(format string, args ...any) { s.failed = true; s.Logf(format, args...) }
func (s *stubTB) Fatal(args ...any)                 { s.failed = true; s.Log(args...) }
func (s *stubTB) FailNow()                          { s.failed = true }
func (s *stubTB) Fail()                             { s.failed = true }
func (s *stubTB) Failed() bool                      { return s.failed }

// RunBytes runs scenario name on the (seed, plan) that data decodes to.
func RunBytes(name string, kinds []string, data []byte) (*scenarios.Result, error) {
	s, sp, err := SpecFor(name, scenarios.Variant{}, kinds)
	if err != nil {
		return nil, err
	}
	seed, plan := DecodePlan(data, sp)
	return run(s, seed, plan), nil
}

// Fuzz is the one-line Go native fuzz target of a scenario: fuzzer bytes
// decode to a seed and a plan of the given kinds, and any failure of the run
// fails the target (with its plan, so it can be replayed). Its seed corpus
// holds, besides two plain seeds, every file of the module's regression
// corpus (CorpusDir) that is an input of this target (Seeds): plain go test
// replays them, and go test -fuzz mutates them.
func Fuzz(f *testing.F, name string, kinds []string) {
	s, sp, err := SpecFor(name, scenarios.Variant{}, kinds)
	if err != nil {
		f.Fatalf("proptest: %v", err)
	}
	f.Add([]byte{})
	f.Add([]byte{7, 0, 0, 0, 0, 0, 0, 0})
	if dir := CorpusDir(); dir != "" {
		seeds, _, err := Seeds(dir, name, kinds)
		if err != nil {
			f.Fatalf("proptest: %v", err)
		}
		for _, in := range seeds {
			f.Add(in)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		seed, plan := DecodePlan(data, sp)
		if res := run(s, seed, plan); res.Failure != nil {
			t.Fatalf("%s", describe(res))
		}
	})
}

// CorpusName is the regression corpus's place under a module's root.
const CorpusName = "testdata/failures"

// CorpusDir returns the regression corpus of the module the test runs in:
// testdata/failures beside the nearest go.mod at or above the working
// directory ("" when there is none).
func CorpusDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			c := filepath.Join(dir, filepath.FromSlash(CorpusName))
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				return c
			}
			return ""
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// CorpusFiles lists the failure files of a corpus directory and of its
// subdirectories (fixed/ holds the bugs since fixed), sorted.
func CorpusFiles(dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".json") {
			paths = append(paths, path)
		}
		return nil
	})
	sort.Strings(paths)
	return paths, err
}

// Seeds returns, as fuzz inputs (EncodePlan), the failure files in dir that
// are exact inputs of the fuzz target (name, kinds), and for every other
// file of that scenario one line saying why it is not. A file is an input
// when the target runs exactly its run: same scenario, no variant, the
// scenario's own fault phase and the faults its seed draws (a fuzz input
// carries only a seed and a plan), and a plan the target's spec admits
// (its targets, and kinds of the families Allowed).
func Seeds(dir, name string, kinds []string) (inputs [][]byte, skipped []string, err error) {
	paths, err := CorpusFiles(dir)
	if err != nil {
		return nil, nil, err
	}
	var sp Spec
	var s *scenarios.Scenario
	for _, path := range paths {
		// Only this scenario's files are read in full: replay.Read checks
		// the scenario is registered, and a package of fuzz targets
		// registers its own system only.
		b, err := replay.ReadBounded(path, replay.MaxFileBytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		var head struct {
			Scenario string `json:"scenario"`
		}
		if json.Unmarshal(b, &head) != nil || head.Scenario != name {
			continue
		}
		f, err := replay.Parse(path, b)
		if err != nil {
			return nil, nil, err
		}
		if s == nil {
			if s, sp, err = SpecFor(name, scenarios.Variant{}, kinds); err != nil {
				return nil, nil, err
			}
		}
		if why := notInput(f, s, sp); why != "" {
			skipped = append(skipped, filepath.Base(path)+": "+why)
			continue
		}
		inputs = append(inputs, EncodePlan(f.Seed, f.Plan))
	}
	return inputs, skipped, nil
}

// notInput says why failure file f is not an exact input of a fuzz target
// of scenario s with spec sp ("" when it is).
func notInput(f *replay.File, s *scenarios.Scenario, sp Spec) string {
	switch {
	case f.Variant != "":
		return "it has a variant (" + f.Variant + "); fuzz inputs run the scenario's defaults"
	case f.Duration != 0 && f.Duration != s.Duration:
		return fmt.Sprintf("its fault phase is %v, the scenario's %v", f.Duration, s.Duration)
	case f.PlanGenerated:
		return "its plan is not explicit"
	}
	want, _ := json.Marshal(s.FaultsFor(scenarios.Variant{}, f.Seed))
	got, _ := json.Marshal(f.Faults)
	if string(want) != string(got) {
		return "its faults are not the ones its seed draws"
	}
	if err := f.Plan.Validate(sp.Targets); err != nil {
		return err.Error()
	}
	for _, a := range f.Plan {
		if !Allowed(a.Kind, sp.Kinds) {
			return fmt.Sprintf("its plan holds a %s action, outside the target's kinds %v", a.Kind, sp.Kinds)
		}
	}
	return ""
}
