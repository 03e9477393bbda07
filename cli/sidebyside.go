package cli

import (
	"fmt"

	"github.com/smilingraft/dsim/compare"
	"github.com/smilingraft/dsim/scenarios"
)

// sideBySide sets up `dsim compare A B`: two scenarios, one arm each, on
// the same seeds (implementations side by side, e.g. raft/halves and
// etcd/halves, which share their fault shape and so their fault plans).
// Each arm takes the defaults, or its own --variant given once per
// scenario in order; --sweep does not apply.
func sideBySide(o *compare.Options, second string, variants *repeated, sweep string) error {
	s2, err := scenarios.Lookup(second)
	if err != nil {
		return err
	}
	switch {
	case sweep != "":
		return fmt.Errorf("--sweep compares values of one scenario's key; with two scenarios give --variant once per scenario")
	case len(*variants) == 0:
		*variants = repeated{"", ""}
	case len(*variants) != 2:
		return fmt.Errorf("with two scenarios give --variant twice (the first scenario's, then the second's; '' for the defaults) or not at all, got %d", len(*variants))
	}
	o.Scenarios = []*scenarios.Scenario{o.Scenario, s2}
	return nil
}
