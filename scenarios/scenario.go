// Package scenarios holds dsim's scenario model, registry and runner: a
// scenario names a system, a topology, a workload, the fault kinds its
// nemesis may use, and its checkers; Run executes one (scenario, variant,
// seed) in two phases, faults then liveness, and returns a Result.
//
// System-specific scenarios live in sub-packages (scenarios/raft, ...) that
// register themselves; scenarios/all imports every one of them.
//
// It may import sim, nodes/... and checkers.
package scenarios

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/smilingraft/dsim/sim"
)

// Param declares a variant key a scenario accepts: its default, its meaning,
// and the values it may take, so that a bad value is refused at the door
// (Validate: one line, before any seed runs) instead of failing every seed
// as "setup".
//
// A key's kind follows from its declaration (see Kind): a key with Enum is an
// enumeration; a key whose Default is "true" or "false" is a boolean; a key
// whose Default is an integer is an integer and must declare Range; any other
// key is free text and must say so with FreeText. Integer keys may also be
// related to another integer key of the same scenario (AtLeastKey,
// BelowKey), for constraints such as election_min <= election_max that no
// single key can express. The registry test in this package holds every
// registered scenario to these rules.
type Param struct {
	Key     string `json:"key"`
	Default string `json:"default"`
	Doc     string `json:"doc"`
	// Range bounds an integer key, both ends included.
	Range *IntRange `json:"range,omitempty"`
	// Enum lists every value a string key may take.
	Enum []string `json:"enum,omitempty"`
	// FreeText declares a string key that takes any value (no enumeration
	// makes sense for it): an explicit choice, not an omission.
	FreeText bool `json:"free_text,omitempty"`
	// AtLeastKey names an integer key this one may not be below
	// (raft.election_max_ms >= raft.election_min_ms).
	AtLeastKey string `json:"at_least_key,omitempty"`
	// BelowKey names an integer key this one must stay strictly below
	// (raft.heartbeat_ms < raft.election_min_ms).
	BelowKey string `json:"below_key,omitempty"`
}

// IntRange is the inclusive range [Min, Max] of an integer variant key.
type IntRange struct {
	Min int64 `json:"min"`
	Max int64 `json:"max"`
}

// Span returns the range [min, max] (shorthand for Param literals).
func Span(min, max int64) *IntRange { return &IntRange{Min: min, Max: max} }

// ParamKind is the kind of values a variant key takes.
type ParamKind string

// Kinds of variant keys.
const (
	KindBool ParamKind = "bool"
	KindInt  ParamKind = "int"
	KindEnum ParamKind = "enum"
	KindText ParamKind = "text"
)

// Kind says what values the key takes, from its declaration: Enum first,
// then the form of Default ("true"/"false": bool; an integer: int), else
// free text.
func (p Param) Kind() ParamKind {
	switch {
	case len(p.Enum) > 0:
		return KindEnum
	case p.Default == "true" || p.Default == "false":
		return KindBool
	}
	if _, err := strconv.ParseInt(p.Default, 10, 64); err == nil {
		return KindInt
	}
	return KindText
}

// Check checks one value against the key's own declaration (kind, range,
// enumeration); relations to other keys are checked by Scenario.Validate.
func (p Param) Check(val string) error {
	switch p.Kind() {
	case KindEnum:
		for _, e := range p.Enum {
			if val == e {
				return nil
			}
		}
		return fmt.Errorf("variant %s=%s: want one of %s", p.Key, val, strings.Join(p.Enum, ", "))
	case KindBool:
		if _, err := strconv.ParseBool(val); err != nil {
			return fmt.Errorf("variant %s=%s: want true or false", p.Key, val)
		}
	case KindInt:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			if r := p.Range; r != nil {
				return fmt.Errorf("variant %s=%s: want an integer in %d..%d", p.Key, val, r.Min, r.Max)
			}
			return fmt.Errorf("variant %s=%s: want an integer", p.Key, val)
		}
		if r := p.Range; r != nil && (n < r.Min || n > r.Max) {
			return fmt.Errorf("variant %s=%s: out of range %d..%d", p.Key, val, r.Min, r.Max)
		}
	}
	return nil
}

// Scenario is one named test of a system.
type Scenario struct {
	// Name is "system/name".
	Name        string
	Description string
	// Params are the variant keys this scenario accepts.
	Params []Param
	// Duration is the fault phase's length in virtual time.
	Duration sim.Duration
	// Liveness bounds the liveness phase: after healing everything, every
	// Progress condition must hold within it. Zero skips the phase.
	Liveness sim.Duration
	// Kinds, when set, are the fault kinds the nemesis may draw from (swarm
	// testing picks a subset per seed). Nil means no generated faults: the
	// scenario scripts its own.
	Kinds *sim.Kinds
	// Faults, when set, replaces swarm drawing with fixed fault options.
	Faults func(v Variant) sim.Faults
	// Calm is the network of the liveness phase (zero: 1ms..5ms delays).
	Calm sim.NetOptions
	// Unsafe marks scenarios (or defaults) that exist to show a bug dsim
	// catches; default campaigns skip them.
	Unsafe bool
	// MaxEvents bounds a run's events (0: 50 million).
	MaxEvents uint64
	// Expect lists the "sometimes" facts (sim.Env.Sometimes) a campaign of
	// this scenario is expected to reach: the ones that show it exercised
	// what it is named for. A campaign reports the declared facts no seed
	// reached, and only those (the full table is on request).
	Expect []string
	// Setup builds the nodes, clients and checkers of one run.
	Setup func(c *Cluster) error
}

// WorkUnderFaults is the metric every scenario records (Cluster.Metric):
// how much client work (operations, commits, tasks) completed while a fault
// was active (sim.World.FaultActive). A scenario with faults where it is
// zero tested nothing under them; campaigns report it per scenario.
const WorkUnderFaults = "work_under_faults"

// System returns the part of the name before the slash.
func (s *Scenario) System() string {
	sys, _, _ := strings.Cut(s.Name, "/")
	return sys
}

var registry = map[string]*Scenario{}

// Register adds a scenario to the registry; it panics on a duplicate or
// malformed name (a programming error found at start-up).
func Register(s *Scenario) {
	if !strings.Contains(s.Name, "/") || s.Setup == nil {
		panic("scenarios: bad scenario " + s.Name)
	}
	if _, dup := registry[s.Name]; dup {
		panic("scenarios: duplicate scenario " + s.Name)
	}
	registry[s.Name] = s
}

// All returns every registered scenario, sorted by name.
func All() []*Scenario {
	out := make([]*Scenario, 0, len(registry))
	for _, s := range registry {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a scenario by exact name.
func Lookup(name string) (*Scenario, error) {
	s, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q (see 'dsim list')", name)
	}
	return s, nil
}

// Match returns the scenarios whose names match any glob pattern ('raft/*');
// no patterns match every safe scenario. A pattern that matches nothing is an
// error. Unsafe scenarios match only patterns that name them exactly or
// contain "unsafe".
func Match(patterns []string) ([]*Scenario, error) {
	if len(patterns) == 0 {
		var out []*Scenario
		for _, s := range All() {
			if !s.Unsafe {
				out = append(out, s)
			}
		}
		return out, nil
	}
	seen := map[string]bool{}
	var out []*Scenario
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("bad pattern %q: %v", p, err)
		}
		n := 0
		for _, s := range All() {
			ok, _ := path.Match(p, s.Name)
			if !ok || (s.Unsafe && p != s.Name && !strings.Contains(p, "unsafe")) {
				continue
			}
			n++
			if !seen[s.Name] {
				seen[s.Name] = true
				out = append(out, s)
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("pattern %q matches no scenario (see 'dsim list')", p)
		}
	}
	return out, nil
}

// Variant is a set of protocol options, key=value.
type Variant map[string]string

// ParseVariant parses "k=v,k=v" (empty: no options).
func ParseVariant(s string) (Variant, error) {
	v := Variant{}
	if strings.TrimSpace(s) == "" {
		return v, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("bad variant %q: want key=value", kv)
		}
		v[k] = val
	}
	return v, nil
}

// String prints the variant canonically: sorted "k=v" joined by commas.
func (v Variant) String() string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + v[k]
	}
	return strings.Join(parts, ",")
}

// Validate refuses a variant the scenario cannot run: keys it does not
// declare, values outside their key's kind, range or enumeration, and
// integer keys that break a declared relation to another key (taking
// defaults for keys the variant leaves out). The error is one line naming
// the key; keys are checked in sorted order, so it is the same every time.
func (s *Scenario) Validate(v Variant) error {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := s.param(k)
		if p == nil {
			var known []string
			for _, q := range s.Params {
				known = append(known, q.Key)
			}
			return fmt.Errorf("unknown variant key %q for %s (known: %s)", k, s.Name, strings.Join(known, ", "))
		}
		if err := p.Check(v[k]); err != nil {
			return err
		}
	}
	value := func(key string) (int64, bool) {
		p := s.param(key)
		if p == nil || p.Kind() != KindInt {
			return 0, false
		}
		val, ok := v[key]
		if !ok {
			val = p.Default
		}
		n, err := strconv.ParseInt(val, 10, 64)
		return n, err == nil
	}
	for _, p := range s.Params {
		n, ok := value(p.Key)
		if !ok {
			continue
		}
		if m, ok := value(p.AtLeastKey); ok && p.AtLeastKey != "" && n < m {
			return fmt.Errorf("variant: %s=%d is below %s=%d (want %s >= %s)", p.Key, n, p.AtLeastKey, m, p.Key, p.AtLeastKey)
		}
		if m, ok := value(p.BelowKey); ok && p.BelowKey != "" && n >= m {
			return fmt.Errorf("variant: %s=%d is not below %s=%d (want %s < %s)", p.Key, n, p.BelowKey, m, p.Key, p.BelowKey)
		}
	}
	return nil
}

// param returns the declaration of key, or nil.
func (s *Scenario) param(key string) *Param {
	for i := range s.Params {
		if s.Params[i].Key == key {
			return &s.Params[i]
		}
	}
	return nil
}

// param returns the value of key: the variant's, else the scenario's default.
func (c *Cluster) param(key string) string {
	if val, ok := c.Variant[key]; ok {
		return val
	}
	for _, p := range c.Scenario.Params {
		if p.Key == key {
			return p.Default
		}
	}
	panic(fmt.Sprintf("scenarios: %s reads undeclared variant key %q", c.Scenario.Name, key))
}

// Int returns an integer variant option (declared in Params).
func (c *Cluster) Int(key string) int {
	n, err := strconv.Atoi(c.param(key))
	if err != nil {
		panic(fmt.Sprintf("scenarios: %s=%q is not an integer", key, c.param(key)))
	}
	return n
}

// Bool returns a boolean variant option (declared in Params).
func (c *Cluster) Bool(key string) bool {
	b, err := strconv.ParseBool(c.param(key))
	if err != nil {
		panic(fmt.Sprintf("scenarios: %s=%q is not a bool", key, c.param(key)))
	}
	return b
}

// String returns a string variant option (declared in Params).
func (c *Cluster) String(key string) string { return c.param(key) }
