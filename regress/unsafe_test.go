package regress_test

import (
	"sort"

	"github.com/smilingraft/dsim/scenarios"
)

// allUnsafe lists the registered unsafe scenarios.
func allUnsafe() []string {
	var out []string
	for _, s := range scenarios.All() {
		if s.Unsafe {
			out = append(out, s.Name)
		}
	}
	sort.Strings(out)
	return out
}
