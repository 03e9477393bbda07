package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// DivergenceChecker is the checker name of a seed whose two runs differ.
const DivergenceChecker = "determinism"

// Diverge reruns (scenario, variant, seed) twice with full traces in memory
// and names the first trace line that differs. It returns "" when both runs
// agree (a non-determinism that does not recur, or none).
func Diverge(s *scenarios.Scenario, v scenarios.Variant, seed uint64, cfg scenarios.Config) string {
	var a, b bytes.Buffer
	ca, cb := cfg, cfg
	ca.Trace, cb.Trace = &a, &b
	ra := scenarios.Run(s, v, seed, ca)
	rb := scenarios.Run(s, v, seed, cb)
	if d := DiffTraces(a.Bytes(), b.Bytes()); d != "" {
		return d
	}
	if ra.TraceHash != rb.TraceHash {
		return fmt.Sprintf("traces agree line by line but hashes differ: %s vs %s", ra.TraceHash, rb.TraceHash)
	}
	return ""
}

// DiffTraces compares two JSON-lines traces and describes the first line that
// differs, naming its event index.
func DiffTraces(a, b []byte) string {
	sa, sb := bufio.NewScanner(bytes.NewReader(a)), bufio.NewScanner(bytes.NewReader(b))
	sa.Buffer(make([]byte, 64<<10), 1<<20)
	sb.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; ; line++ {
		okA, okB := sa.Scan(), sb.Scan()
		if !okA && !okB {
			return ""
		}
		la, lb := sa.Bytes(), sb.Bytes()
		if okA && okB && bytes.Equal(la, lb) {
			continue
		}
		describe := func(ok bool, l []byte) string {
			if !ok {
				return "(trace ended)"
			}
			var ev sim.TraceEvent
			if json.Unmarshal(l, &ev) != nil {
				return string(l)
			}
			return FormatEvent(ev) + " h=" + ev.Hash
		}
		idx := ""
		var ev sim.TraceEvent
		if okA && json.Unmarshal(la, &ev) == nil {
			idx = fmt.Sprintf(" (event %d)", ev.Index)
		}
		return fmt.Sprintf("first differing trace line %d%s:\n  run 1: %s\n  run 2: %s", line, idx, describe(okA, la), describe(okB, lb))
	}
}
