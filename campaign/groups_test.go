package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// Two test-only bugs whose messages carry the seed's numbers, node names,
// times and hashes: every seed of one is the same cause.
type buggy struct {
	bug  string
	seed uint64
}

func (b buggy) Start(env *sim.Env) {
	env.After(sim.Duration(1+b.seed%7)*sim.Millisecond, func() {
		s := b.seed
		switch b.bug {
		case "a":
			env.Fail("test.election", "server %d granted its vote to %d in term %d, but its disk says term %d, vote %d",
				s%5, (s+1)%5, s, s-1, int64(s%3)-1)
		default:
			env.Fail("test.stale", "s%d served %q at %dms (hash %016x), members [%s]",
				s%3, fmt.Sprintf("c%d.%d", s%4, s), s*3, s*0x9e3779b97f4a7c15, strings.Repeat("n1 ", int(s%4)))
		}
	})
}
func (buggy) Receive(sim.NodeID, sim.Message) {}

func init() {
	for _, bug := range []string{"a", "b"} {
		bug := bug
		scenarios.Register(&scenarios.Scenario{Name: "groups/unsafe-" + bug, Unsafe: true, Duration: 10 * sim.Millisecond,
			Description: "test only: a bug whose message varies with the seed",
			Setup: func(c *scenarios.Cluster) error {
				seed := c.Seed
				c.Servers(c.W.AddNode("n0", func() sim.Node { return buggy{bug: bug, seed: seed} }))
				return nil
			}})
	}
}

// TestGroupsTwoBugs: 300 failing seeds of two bugs are two groups with
// their counts, first (lowest seed) and smallest repro (a file, the lowest
// event), in the campaign, in the merge of its 4 shards (the same groups),
// and in the JSON read back.
func TestGroupsTwoBugs(t *testing.T) {
	ss := match(t, "groups/unsafe-*")
	dir := t.TempDir()
	whole := Run(context.Background(), Options{Scenarios: ss, Seeds: 150, From: 1, Workers: 2, Out: dir, FilesPerChecker: 3})
	if len(whole.Failures) != 300 {
		t.Fatalf("%d failures, want 300", len(whole.Failures))
	}
	if len(whole.Groups) != 2 {
		for _, g := range whole.Groups {
			t.Logf("%d %s", g.Count, g.Signature)
		}
		t.Fatalf("%d groups, want 2", len(whole.Groups))
	}
	for _, g := range whole.Groups {
		if g.Count != 150 || g.Files != 3 || g.First.Seed != 1 || g.Smallest.File == "" {
			t.Errorf("group %s: count %d files %d first seed %d smallest %+v", g.Signature, g.Count, g.Files, g.First.Seed, g.Smallest)
		}
		if g.ID != GroupID(g.Signature) || len(g.ID) != 16 {
			t.Errorf("group id %q", g.ID)
		}
	}
	var parts []*Summary
	for i := 0; i < 4; i++ {
		p := Run(context.Background(), Options{Scenarios: ss, Seeds: 150, From: 1, Workers: 1, Shard: Shard{i, 4}, Out: t.TempDir(), FilesPerChecker: 3})
		parts = append(parts, roundTrip(t, p))
	}
	merged, err := Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := groupKeys(whole.Groups), groupKeys(merged.Groups); !reflect.DeepEqual(a, b) {
		t.Errorf("merged groups differ from the unsharded campaign's:\n%v\n%v", a, b)
	}
	back := roundTrip(t, merged)
	if !reflect.DeepEqual(back.Groups, merged.Groups) {
		t.Errorf("groups changed through JSON")
	}
}

// groupKeys is what must not depend on sharding: file paths differ per
// shard directory, so they are left out.
func groupKeys(gs []Group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, fmt.Sprintf("%s %s %d first=%d", g.ID, g.Signature, g.Count, g.First.Seed))
	}
	return out
}

func roundTrip(t *testing.T, s *Summary) *Summary {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSummary("test", b)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// TestGroupsHandMade: 300 hand-made failures of two shapes with varying
// numbers are two groups; the smallest repro prefers a file, then the
// lowest event.
func TestGroupsHandMade(t *testing.T) {
	var fs []Failure
	for i := uint64(300); i > 0; i-- {
		f := Failure{Scenario: "kv/partition", Checker: "linearizability", Seed: i, Event: 1000 + i%50,
			Message: fmt.Sprintf("history of %d ops over %d keys is not linearizable (picture: failures/kv-seed%d.html)", 100+i, 1+i%3, i),
			Moment:  fmt.Sprintf(`get("k%d") -> "c%d.%d"@v%d by c%d cannot be linearized after the longest linearizable prefix of key "k%d" (%d ops); %d more keys broken`, i%3, i%4, i, i%9, i%2, i%3, i, i%2)}
		if i%2 == 0 {
			f.Scenario, f.Checker, f.Moment = "raft/figure8", "raft.log-matching", ""
			f.Message = fmt.Sprintf("server %d and server %d disagree at index %d (terms %d and %d) at %v", i%5, (i+2)%5, i*7, i, i+1, sim.Duration(i)*sim.Millisecond)
		}
		if i%10 == 3 || i%10 == 4 {
			f.File = fmt.Sprintf("f/%d.json", i)
		}
		fs = append(fs, f)
	}
	gs := Groups(fs)
	if len(gs) != 2 {
		for _, g := range gs {
			t.Logf("%d %s", g.Count, g.Signature)
		}
		t.Fatalf("%d groups, want 2", len(gs))
	}
	for _, g := range gs {
		if g.Count != 150 || g.Files != 30 || g.First.Seed > 2 {
			t.Errorf("%s: count %d files %d first %d", g.Signature, g.Count, g.Files, g.First.Seed)
		}
		if g.Smallest.File == "" {
			t.Errorf("%s: smallest repro has no file though %d failures have one", g.Signature, g.Files)
		}
		for _, f := range fs {
			if f.File != "" && Signature(f) == g.Signature && f.Event < g.Smallest.Event {
				t.Errorf("%s: smallest at event %d, but %s fails at %d", g.Signature, g.Smallest.Event, f.File, f.Event)
			}
		}
	}
	rev := append([]Failure(nil), fs...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if !reflect.DeepEqual(Groups(rev), gs) {
		t.Errorf("groups depend on the failures' order")
	}
}

// TestGroupsNeverMergeDistinct: near-identical failures that differ in
// scenario, variant, checker, a word of the message or the moment's
// operation are distinct groups.
func TestGroupsNeverMergeDistinct(t *testing.T) {
	base := Failure{Scenario: "raft/a", Variant: "", Checker: "raft.election-safety", Seed: 1,
		Message: "server 1 granted its vote to 2 in term 3, but its disk says term 2, vote -1"}
	vary := []func(*Failure){
		func(f *Failure) {},
		func(f *Failure) { f.Scenario = "raft/b" },
		func(f *Failure) { f.Variant = "raft.prevote=true" },
		func(f *Failure) { f.Checker = "raft.leader-completeness" },
		func(f *Failure) { f.Message = strings.Replace(f.Message, "granted", "refused", 1) },
		func(f *Failure) { f.Message = strings.Replace(f.Message, "disk", "log", 1) },
		func(f *Failure) { f.Moment = `get("k1") -> ErrNoKey by c1 cannot be linearized` },
		func(f *Failure) { f.Moment = `put("k1") -> OK by c1 cannot be linearized` },
	}
	var fs []Failure
	for i, v := range vary {
		for seed := uint64(1); seed <= 3; seed++ {
			f := base
			f.Seed = seed*10 + uint64(i)
			f.Message = strings.Replace(f.Message, "term 3", fmt.Sprintf("term %d", seed+2), 1)
			v(&f)
			fs = append(fs, f)
		}
	}
	gs := Groups(fs)
	if len(gs) != len(vary) {
		for _, g := range gs {
			t.Logf("%d %s", g.Count, g.Signature)
		}
		t.Fatalf("%d groups, want %d", len(gs), len(vary))
	}
	for _, g := range gs {
		if g.Count != 3 {
			t.Errorf("%s: count %d, want 3", g.Signature, g.Count)
		}
	}
}

// TestNormalizeMessage pins the placeholders.
func TestNormalizeMessage(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"server 4 granted its vote to 1 in term 1, but its disk says term 0, vote -1",
			"server N granted its vote to N in term N, but its disk says term N, vote N"},
		{"at 5020937195ns group g2 accepts writes for shard 6 while group g1 still does (g2 index 20)",
			"at T group gN accepts writes for shard N while group gN still does (gN index N)"},
		{"increment: no progress within 3s after healing: s1 made no progress",
			"increment: no progress within T after healing: sN made no progress"},
		{"mr-job: no progress within 1m30s: job not done; unfinished tasks [m2 r0 r1 ...]",
			"mr-job: no progress within T: job not done; unfinished tasks [...]"},
		{`a Dec submitted to the minority leader s1 returned OK ("x 3")`, `a Dec submitted to the minority leader sN returned OK ("S")`},
		{"two runs of seed 7 differ: hash 3fa9c2e1d0b4a7f6 (passed) vs 1234567890123456 (x)",
			"two runs of seed N differ: hash H (passed) vs H (x)"},
		{"published file mr-0-1 changed: 1024 bytes, now 1528", "published file mr-N-N changed: N bytes, now N"},
		{"history of 5 ops over 3 keys is not linearizable (picture: failures/a b.html)", "history of N ops over N keys is not linearizable"},
		{"took 2.5ms and 5 secs", "took T and N secs"},
		{"  spaced\tout  ", "spaced out"},
		{`unterminated "quote 3`, `unterminated "quote N`},
	} {
		if got := NormalizeMessage(c.in); got != c.want {
			t.Errorf("NormalizeMessage(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	// Hostile messages (a summary file is input) normalise in linear time
	// and stay bounded.
	for _, m := range []string{strings.Repeat("[", 1<<20), strings.Repeat(`"`, 1<<20) + "x", strings.Repeat("1m", 1<<20),
		strings.Repeat("{[", 1<<19) + strings.Repeat("]}", 1<<19), strings.Repeat("0x", 1<<20)} {
		if n := len([]rune(NormalizeMessage(m))); n > maxPattern+1 {
			t.Errorf("hostile message normalised to %d runes", n)
		}
	}
	long := NormalizeMessage(strings.Repeat("word ", 200))
	if n := len([]rune(long)); n != maxPattern+1 {
		t.Errorf("long message normalised to %d runes, want %d", n, maxPattern+1)
	}
}

// TestGroupsOldSummary: a summary written before groups existed (no
// "groups", no "moment") gets its groups when read.
func TestGroupsOldSummary(t *testing.T) {
	old := `{"runs":3,"passed":1,"failures":[
{"scenario":"x/y","variant":"","seed":1,"checker":"c","message":"node 1 broke at 3s","event":9,"vtime_ns":1,"repro":"r1"},
{"scenario":"x/y","variant":"","seed":2,"checker":"c","message":"node 4 broke at 12s","event":5,"vtime_ns":1,"file":"f2.json","repro":"r2"}],
"failure_files":["f2.json"],"events":1,"vtime_ns":1,"wall_ns":1,"seeds_per_s":1,"workers":1,"double_runs":0,"interrupted":false,
"seeds":[{"scenario":"x/y","variant":"","from":1,"seeds":3,"shard":{"index":0,"count":1},"runs":3}],"coverage":{},"work_under_faults":{},
"unwritten_files":0,"files_skipped":0}`
	s, err := ParseSummary("old.json", []byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Groups) != 1 || s.Groups[0].Count != 2 || s.Groups[0].First.Seed != 1 || s.Groups[0].Smallest.File != "f2.json" {
		t.Fatalf("old summary's groups: %+v", s.Groups)
	}
	// Groups in a file are not trusted: recomputed from the failures.
	var m map[string]any
	_ = json.Unmarshal([]byte(old), &m)
	m["groups"] = []map[string]any{{"id": "x", "count": 99}}
	b, _ := json.Marshal(m)
	s2, err := ParseSummary("forged.json", b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s2.Groups, s.Groups) {
		t.Errorf("groups read from the file instead of recomputed: %+v", s2.Groups)
	}
}
