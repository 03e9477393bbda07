package scenarios_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
	_ "github.com/smilingraft/dsim/scenarios/all"
)

// TestEveryParamDeclaresItsValues holds every registered scenario (of every
// system, present and future) to the variant-key contract: an integer key
// declares its range, a string key its enumeration or that it is free text,
// defaults lie inside what they declare, and relations name integer keys
// the scenario has. A key that declares nothing lets "raft.heartbeat_ms=0"
// through to fail every seed as "setup" instead of being refused at the door.
func TestEveryParamDeclaresItsValues(t *testing.T) {
	for _, s := range scenarios.All() {
		keys := map[string]scenarios.Param{}
		for _, p := range s.Params {
			if _, dup := keys[p.Key]; dup {
				t.Errorf("%s: key %s declared twice", s.Name, p.Key)
			}
			keys[p.Key] = p
		}
		for _, p := range s.Params {
			where := s.Name + " " + p.Key
			if p.Doc == "" {
				t.Errorf("%s: no Doc", where)
			}
			switch p.Kind() {
			case scenarios.KindInt:
				if p.Range == nil {
					t.Errorf("%s: integer key (default %q) declares no Range", where, p.Default)
				}
			case scenarios.KindEnum:
			case scenarios.KindBool:
			case scenarios.KindText:
				if !p.FreeText {
					t.Errorf("%s: string key (default %q) declares neither Enum nor FreeText", where, p.Default)
				}
			}
			if err := p.Check(p.Default); err != nil {
				t.Errorf("%s: default refused by its own declaration: %v", where, err)
			}
			for _, rel := range []string{p.AtLeastKey, p.BelowKey} {
				if rel == "" {
					continue
				}
				if q, ok := keys[rel]; !ok || q.Kind() != scenarios.KindInt || p.Kind() != scenarios.KindInt {
					t.Errorf("%s: relation to %q, which is not an integer key of the scenario", where, rel)
				}
			}
		}
		if err := s.Validate(scenarios.Variant{}); err != nil {
			t.Errorf("%s: the defaults do not validate: %v", s.Name, err)
		}
	}
}

// TestOutOfRangeValuesRefused checks, for every key of every scenario, that a
// value just outside its declaration is refused in one line naming the key,
// and that the bounds themselves are accepted (unless a relation to another
// key's default forbids them).
func TestOutOfRangeValuesRefused(t *testing.T) {
	for _, s := range scenarios.All() {
		for _, p := range s.Params {
			var bad []string
			switch p.Kind() {
			case scenarios.KindInt:
				if p.Range == nil {
					continue // reported by TestEveryParamDeclaresItsValues
				}
				if p.Range.Min > -1<<63 {
					bad = append(bad, strconv.FormatInt(p.Range.Min-1, 10))
				}
				if p.Range.Max < 1<<63-1 {
					bad = append(bad, strconv.FormatInt(p.Range.Max+1, 10))
				}
				bad = append(bad, "x", "99999999999999999999")
			case scenarios.KindEnum:
				bad = append(bad, "bogus", "")
			case scenarios.KindBool:
				bad = append(bad, "maybe")
			}
			for _, val := range bad {
				err := s.Validate(scenarios.Variant{p.Key: val})
				if err == nil {
					t.Errorf("%s: %s=%q accepted", s.Name, p.Key, val)
					continue
				}
				if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, p.Key) {
					t.Errorf("%s: %s=%q: error %q is not one line naming the key", s.Name, p.Key, val, msg)
				}
			}
		}
	}
}

// TestRaftValuesRefusedAtTheDoor: the values issue 15 found passing
// validation and then failing every seed as "setup".
func TestRaftValuesRefusedAtTheDoor(t *testing.T) {
	for _, c := range []struct{ scenario, variant, want string }{
		{"counter/basic", "counter.servers=0", "counter.servers"},
		{"raft/initial-election", "raft.heartbeat_ms=0", "raft.heartbeat_ms"},
		{"raft/initial-election", "raft.read=bogus", "raft.read"},
		{"raft/initial-election", "raft.election_min_ms=700", "raft.election_max_ms"},
		{"raft/initial-election", "raft.election_max_ms=200", "raft.election_max_ms"},
		{"raft/initial-election", "raft.heartbeat_ms=300", "raft.heartbeat_ms"},
		{"raft/bridge", "raft.servers=2", "raft.servers"},
		{"mr/job-count", "mr.workers=2", "mr.workers"},
		{"mr/wc", "mr.nreduce=0", "mr.nreduce"},
	} {
		s, err := scenarios.Lookup(c.scenario)
		if err != nil {
			t.Fatal(err)
		}
		v, err := scenarios.ParseVariant(c.variant)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Validate(v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s --variant %s: %v; want an error naming %s", c.scenario, c.variant, err, c.want)
		}
	}
	// In range, related keys consistent: accepted.
	s, _ := scenarios.Lookup("raft/initial-election")
	if err := s.Validate(scenarios.Variant{"raft.election_min_ms": "150", "raft.election_max_ms": "150", "raft.heartbeat_ms": "50", "raft.read": "lease"}); err != nil {
		t.Errorf("a consistent raft variant refused: %v", err)
	}
}
