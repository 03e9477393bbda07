package sim

import "fmt"

// Time is a point in virtual time, in nanoseconds since the world started.
type Time int64

// Duration is a span of virtual time in nanoseconds. Nodes use it instead of
// time.Duration because code under nodes/ may not import package time.
type Duration int64

// Common durations.
const (
	Nanosecond  Duration = 1
	Microsecond          = 1000 * Nanosecond
	Millisecond          = 1000 * Microsecond
	Second               = 1000 * Millisecond
	Minute               = 60 * Second
)

// Add returns t+d, saturating at MaxTime and MinTime (see saturate.go).
func (t Time) Add(d Duration) Time { return Time(addSat(int64(t), int64(d))) }

// Sub returns t-u, saturating at the ends of Duration.
func (t Time) Sub(u Time) Duration { return Duration(subSat(int64(t), int64(u))) }

// String prints t as seconds with millisecond precision, e.g. "1.250s".
func (t Time) String() string { return Duration(t).String() }

// String prints d compactly in the largest unit that keeps it readable.
func (d Duration) String() string {
	switch {
	case d == 0:
		return "0s"
	case d%Second == 0:
		return fmt.Sprintf("%ds", d/Second)
	case d%Millisecond == 0:
		return fmt.Sprintf("%dms", d/Millisecond)
	case d >= Millisecond || d <= -Millisecond:
		return fmt.Sprintf("%.3fms", float64(d)/float64(Millisecond))
	default:
		return fmt.Sprintf("%dns", int64(d))
	}
}

// Ratio is a probability as an integer ratio Num/Den. The zero value means
// "never"; a ratio with Num >= Den means "always". Integer ratios keep fault
// probabilities exact and printable.
type Ratio struct {
	Num uint32 `json:"num"`
	Den uint32 `json:"den"`
}

// R is shorthand for Ratio{num, den}.
func R(num, den uint32) Ratio { return Ratio{Num: num, Den: den} }

// Zero reports whether the ratio never fires.
func (p Ratio) Zero() bool { return p.Num == 0 || p.Den == 0 }

// String prints the ratio as "num/den".
func (p Ratio) String() string { return fmt.Sprintf("%d/%d", p.Num, p.Den) }
