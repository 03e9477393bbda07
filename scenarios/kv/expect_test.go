package kv

import (
	"reflect"
	"testing"

	"github.com/smilingraft/dsim/scenarios"
)

// Every scenario named in expected is registered, safe, and declares
// exactly those facts: a misspelt name would declare nothing, silently.
func TestExpectedNamesRegisteredScenarios(t *testing.T) {
	for name, facts := range expected {
		s, err := scenarios.Lookup(name)
		if err != nil {
			t.Errorf("expected names %s: %v", name, err)
			continue
		}
		if s.Unsafe || !reflect.DeepEqual(s.Expect, facts) {
			t.Errorf("%s: unsafe %v, declares %q, want %q", name, s.Unsafe, s.Expect, facts)
		}
	}
}
