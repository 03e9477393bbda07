package sim

import "math"

// Virtual time saturates: an instant past the end of int64 nanoseconds is
// MaxTime ("never"), one before its start is MinTime. Sums of durations
// saturate the same way. Nothing in the kernel may wrap around, because a
// wrapped time is a moment in the distant past: events would run before
// the ones that caused them and a run would spin instead of ending. For the
// values a valid plan uses (far from the ends) saturating arithmetic gives
// exactly the wrapping results, so trace hashes do not change.

// MaxTime and MinTime are the ends of virtual time.
const (
	MaxTime Time = math.MaxInt64
	MinTime Time = math.MinInt64
)

// Hour is an hour of virtual time.
const Hour = 60 * Minute

// addSat returns a+b, clamped to [MinInt64, MaxInt64].
func addSat(a, b int64) int64 {
	s := a + b
	switch {
	case b > 0 && s < a:
		return math.MaxInt64
	case b < 0 && s > a:
		return math.MinInt64
	}
	return s
}

// subSat returns a-b, clamped to [MinInt64, MaxInt64].
func subSat(a, b int64) int64 {
	s := a - b
	switch {
	case b < 0 && s < a:
		return math.MaxInt64
	case b > 0 && s > a:
		return math.MinInt64
	}
	return s
}

// Plus returns d+e, saturating at the ends of int64 instead of wrapping.
func (d Duration) Plus(e Duration) Duration { return Duration(addSat(int64(d), int64(e))) }

// mulDivSat returns x*num/den for x >= 0 and 0 < num, den <= 2e6, rounding
// up when ceil is set, and saturating at MaxInt64. It splits x so that no
// intermediate product overflows; for small x it is the plain formula.
func mulDivSat(x, num, den int64, ceil bool) int64 {
	var up int64
	if ceil {
		up = den - 1
	}
	if x <= (math.MaxInt64-up)/num {
		return (x*num + up) / den
	}
	q, r := x/den, x%den
	if q > math.MaxInt64/num {
		return math.MaxInt64
	}
	return addSat(q*num, (r*num+up)/den)
}
