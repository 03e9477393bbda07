package replay

import (
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/smilingraft/dsim/internal/headless"
	"github.com/smilingraft/dsim/sim"
)

// hostile is a node log line that would run script if the page ever put
// trace text into the document as markup.
const hostile = `</script><script>document.body.setAttribute("data-pwned","script")</script>` +
	`<img src=x onerror="document.body.setAttribute('data-pwned','img')"><b onclick=alert(1)>` + "\u2028\u2029"

// The page, loaded in a real headless Chromium, draws every node lane,
// every message arrow and the failing event without a script error, and a
// hostile string in a node log (and in a node name) runs no script: the
// page's own self-check writes what it drew into the DOM, which
// --dump-dom hands back.
func TestPageInHeadlessChromium(t *testing.T) {
	bin := headless.Need(t)
	rec := record(t, figure8File(t))
	at := len(rec.Events) - 20 // in the view the page opens on, so the event list shows it
	e := rec.Events[at]
	evil := []sim.TraceEvent{
		{Index: e.Index, Time: e.Time, Kind: "log", Node: "s2", What: hostile},
		{Index: e.Index, Time: e.Time, Kind: "log", Node: `<img src=y onerror="document.body.setAttribute('data-pwned','lane')">`, What: hostile},
	}
	rec.Events = append(rec.Events[:at:at], append(evil, rec.Events[at:]...)...)
	tl := rec.Timeline()
	page := writePage(t, rec)
	start := time.Now()
	dom := headless.Render(t, bin, page)
	t.Logf("chromium rendered the page (%d events, %d messages) in %v", len(rec.Events), len(tl.Msgs), time.Since(start))
	m := regexp.MustCompile(`(?s)<pre id="selfcheck"[^>]*>(.*?)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("no self-check in the DOM (did the script run?):\n%.2000s", dom)
	}
	var self struct {
		Lanes        []string `json:"lanes"`
		ArrowsAll    int      `json:"arrowsAll"`
		Msgs         int      `json:"msgs"`
		EventsAll    int      `json:"eventsAll"`
		FailureDrawn bool     `json:"failureDrawn"`
		FailureText  string   `json:"failureText"`
		Errors       []string `json:"errors"`
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &self); err != nil {
		t.Fatalf("self-check %q: %v", m[1], err)
	}
	if len(self.Errors) > 0 {
		t.Fatalf("script errors: %v", self.Errors)
	}
	if d := cmp.Diff(tl.Lanes, self.Lanes); d != "" {
		t.Fatalf("lanes drawn differ (-want +got):\n%s", d)
	}
	if self.Msgs != len(tl.Msgs) || self.ArrowsAll != len(tl.Msgs) || self.ArrowsAll == 0 {
		t.Fatalf("drew %d arrows of %d messages (page has %d)", self.ArrowsAll, len(tl.Msgs), self.Msgs)
	}
	if self.EventsAll != len(rec.Events) {
		t.Fatalf("drew %d events of %d", self.EventsAll, len(rec.Events))
	}
	f := rec.Outcome.Result.Failure
	if !self.FailureDrawn || !strings.Contains(self.FailureText, f.Checker) || !strings.Contains(self.FailureText, f.Message) {
		t.Fatalf("failure not shown: drawn=%v text=%q", self.FailureDrawn, self.FailureText)
	}
	s := string(dom)
	if strings.Contains(s, "data-pwned=") {
		t.Fatal("the hostile node log ran script")
	}
	if strings.Contains(s, "<img") || strings.Contains(s, "<b onclick") {
		t.Fatal("the hostile node log became markup")
	}
}

// writePage writes rec's page into a test directory and returns its path.
func writePage(t *testing.T, rec *Recording) string {
	t.Helper()
	page := filepath.Join(t.TempDir(), "page.html")
	fh, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.WriteHTML(fh, PageOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	return page
}
