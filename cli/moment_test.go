package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/replay"
)

// A linearizability failure found by a campaign carries the moment the
// history broke: 'run' prints it with the --break command that stops
// there, --break at it stops at that event (and replay --break says it is
// the failure's moment), replay shows the trace up to it, and explain
// takes it as the failure's event rather than the end of the run.
func TestLinearizabilityMomentCLI(t *testing.T) {
	dir := t.TempDir()
	args := []string{"kv/unsafe-lease", "--seed", "1", "--variant", "kv.clients=1", "--out", t.TempDir()}
	code, out, errs := run(t, "campaign", "kv/unsafe-lease", "--seeds", "1", "--variant", "kv.clients=1", "--out", dir)
	if code != 1 {
		t.Fatalf("campaign exit %d:\n%s%s", code, out, errs)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "kv_unsafe-lease-seed1-linearizability-*.json"))
	if len(m) != 1 {
		t.Fatalf("failure files %v", m)
	}
	file := m[0]
	f, err := replay.Read(file)
	if err != nil {
		t.Fatal(err)
	}
	mo := f.Failure.Moment
	if mo == nil || mo.Event == 0 || mo.Event >= f.Failure.Event {
		t.Fatalf("failure %s: moment %+v, want one before the end of the run", f.Failure.Error(), mo)
	}
	at := fmt.Sprint(mo.Event)

	code, out, errs = run(t, append([]string{"run"}, args...)...)
	if code != 1 || !strings.Contains(out, "moment: event "+at+" ") || !strings.Contains(out, "--variant kv.clients=1 --break "+at+"\n") {
		t.Fatalf("run exit %d, want the moment at event %s and its --break command:\n%s%s", code, at, out, errs)
	}
	code, out, errs = run(t, append(append([]string{"run"}, args...), "--break", at)...)
	if code != 0 || !strings.Contains(out, "STOPPED") || !strings.Contains(out, "state at event "+at+":") {
		t.Fatalf("run --break %s exit %d:\n%s%s", at, code, out, errs)
	}
	code, out, errs = run(t, "replay", file, "--break", at)
	if code != 0 || !strings.Contains(out, "STOPPED after event "+at) || !strings.Contains(out, "event "+at+" is the failure's moment: get(") {
		t.Fatalf("replay --break %s exit %d:\n%s%s", at, code, out, errs)
	}
	code, out, errs = run(t, "replay", file, "--window", "6")
	i := strings.Index(out, "timeline up to the moment (last 6 events):\n")
	if code != 1 || !strings.Contains(out, "REPRODUCED") || i < 0 {
		t.Fatalf("replay exit %d:\n%s%s", code, out, errs)
	}
	if w := strings.Split(out[i:], "\n"); !strings.HasPrefix(w[6], "=> #"+at+" ") || !strings.Contains(w[6], " return ") {
		t.Fatalf("the window does not end at the culprit's return (event %s):\n%s", at, out[i:])
	}
	code, out, errs = run(t, "explain", file, "--forks", "2", "--points", "3", "--refine", "0", "--workers", "1")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("linearizability at event %s (the moment its evidence points at; detected at event %d)", at, f.Failure.Event)) {
		t.Fatalf("explain exit %d:\n%s%s", code, out, errs)
	}
}
