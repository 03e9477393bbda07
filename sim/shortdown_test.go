package sim

import "testing"

// A short downtime drawn near the end of a fault phase that is not a
// multiple of the step must not outlast the phase: every restart and
// resume falls inside it, as with long downtimes (dwell clamps those).
func TestShortDowntimesEndWithThePhase(t *testing.T) {
	end := 1050 * Millisecond // last step at 1000 ms: 49 ms of phase left
	f := Faults{Step: 100 * Millisecond, Process: ProcessFaults{Crash: R(1, 2), Pause: R(1, 2), ShortDown: R(1, 1)}}
	late := 0
	for seed := uint64(0); seed < 300; seed++ {
		for _, a := range GeneratePlan(seed, f, 5, end) {
			if a.At >= end {
				late++
				if late == 1 {
					t.Errorf("seed %d: %s at %v, past the phase's end %v", seed, a.Kind, a.At, end)
				}
			}
		}
	}
	if late > 0 {
		t.Errorf("%d actions past the end in 300 plans", late)
	}
}
