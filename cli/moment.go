package cli

import (
	"fmt"
	"io"

	"github.com/smilingraft/dsim/replay"
	"github.com/smilingraft/dsim/sim"
)

// printMoment prints the moment a failure's evidence points at (a
// linearizability failure detected at the end of the run) and the command
// that stops the run there: cmd is the command that reran it, to which
// "--break E" is appended.
func printMoment(w io.Writer, fail *sim.Failure, window []sim.TraceEvent, cmd string) {
	if fail == nil || fail.Moment == nil {
		return
	}
	replay.PrintMoment(w, fail, window)
	if fail.Moment.Event > 0 {
		fmt.Fprintf(w, "state of every node at the moment: %s --break %d\n", replay.Escape(cmd), fail.Moment.Event)
	}
}

// momentNote says where a --break at event k stands against the failure's
// moment, when the failure has one.
func momentNote(w io.Writer, fail *sim.Failure, k uint64) {
	if fail == nil || fail.Moment == nil {
		return
	}
	m := fail.Moment
	switch {
	case k == m.Event:
		fmt.Fprintf(w, "event %d is the failure's moment: %s\n", k, replay.Escape(m.Why))
	case k < m.Event:
		fmt.Fprintf(w, "the failure's moment is %d events later, at event %d\n", m.Event-k, m.Event)
	default:
		fmt.Fprintf(w, "past the failure's moment (event %d) by %d events\n", m.Event, k-m.Event)
	}
}
