package report

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smilingraft/dsim/campaign"
	"github.com/smilingraft/dsim/internal/headless"
	"github.com/smilingraft/dsim/scenarios"
	_ "github.com/smilingraft/dsim/scenarios/all"
)

func needChromium(t *testing.T) string { return headless.Need(t) }

// selfCheck is what the report page's script writes into the DOM.
type selfCheck struct {
	Status        string            `json:"status"`
	Totals        map[string]uint64 `json:"totals"`
	Systems       int               `json:"systems"`
	Scenarios     int               `json:"scenarios"`
	Groups        int               `json:"groups"`
	GroupFailures uint64            `json:"groupFailures"`
	ReplayLinks   []string          `json:"replayLinks"`
	Unreached     int               `json:"unreached"`
	Nights        int               `json:"nights"`
	NewMarks      []string          `json:"newMarks"`
	GoneMarks     []string          `json:"goneMarks"`
	Plots         int               `json:"plots"`
	Errors        []string          `json:"errors"`
}

// render loads a page in headless Chromium and returns its DOM after the
// page's script ran.
func render(t *testing.T, bin, page string) string { return string(headless.Render(t, bin, page)) }

func pageSelfCheck(t *testing.T, dom string) selfCheck {
	t.Helper()
	m := regexp.MustCompile(`(?s)<pre id="selfcheck"[^>]*>(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil || m[1] == "" {
		t.Fatalf("no self-check in the DOM (did the script run? the CSP allows it by hash):\n%.3000s", dom)
	}
	var sc selfCheck
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &sc); err != nil {
		t.Fatalf("self-check %q: %v", m[1], err)
	}
	if len(sc.Errors) > 0 {
		t.Fatalf("script errors: %v", sc.Errors)
	}
	return sc
}

func match(t *testing.T, p ...string) []*scenarios.Scenario {
	t.Helper()
	ss, err := scenarios.Match(p)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// A merged four-shard campaign with failures renders in headless Chromium
// with no script error (nor CSP violation), and the page shows the
// summary's counts: totals, one row per system and scenario, one row per
// failure group adding up to the failures, a working link to each group's
// replay page (written beside it, and itself rendering), every declared
// fact never reached, and the trend section given with it.
func TestReportPageInHeadlessChromium(t *testing.T) {
	bin := needChromium(t)
	dir := t.TempDir()
	o := campaign.Options{Scenarios: match(t, "counter/basic", "counter/crash", "counter/unsafe-nosync", "mr/unsafe-no-rename"), Seeds: 8, Workers: 2,
		Out: filepath.Join(dir, "failures"), DoubleRunEvery: 1 << 40, Watchdog: 30 * time.Second}
	var parts []*campaign.Summary
	for i := 0; i < 4; i++ {
		po := o
		po.Shard = campaign.Shard{Index: i, Count: 4}
		parts = append(parts, campaign.Run(context.Background(), po))
	}
	sum, err := campaign.Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Groups) < 2 {
		t.Fatalf("want failure groups of counter/unsafe-nosync and mr/unsafe-no-rename: %d failures, %d groups", len(sum.Failures), len(sum.Groups))
	}
	// A declared fact no seed reached, as a real campaign may have.
	sum.Coverage["counter/basic"].DeclaredUnreached = []string{"counter: a fact never reached"}
	tr := &Trend{}
	tr.Add("night-1", parts[0])
	tr.Add("tonight", sum)

	page := filepath.Join(dir, "report.html")
	notes, err := WriteFile(page, sum, Options{Trend: tr}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) > 0 {
		t.Fatalf("replay pages not written: %v", notes)
	}
	start := time.Now()
	sc := pageSelfCheck(t, render(t, bin, page))
	t.Logf("chromium rendered the report in %v: %+v", time.Since(start), sc)
	want := map[string]uint64{"runs": sum.Runs, "passed": sum.Passed, "failures": uint64(len(sum.Failures)),
		"groups": uint64(len(sum.Groups)), "undecided": uint64(len(sum.Undecided))}
	for k, v := range want {
		if sc.Totals[k] != v {
			t.Errorf("total %s = %d on the page, want %d", k, sc.Totals[k], v)
		}
	}
	if sc.Status != "FAIL" {
		t.Errorf("status %q, want FAIL", sc.Status)
	}
	if sc.Systems != 2 || sc.Scenarios != 4 {
		t.Errorf("%d system rows and %d scenario rows, want 2 and 4", sc.Systems, sc.Scenarios)
	}
	if sc.Groups != len(sum.Groups) || sc.GroupFailures != uint64(len(sum.Failures)) {
		t.Errorf("%d group rows holding %d failures, want %d holding %d", sc.Groups, sc.GroupFailures, len(sum.Groups), len(sum.Failures))
	}
	if sc.Unreached != 1 {
		t.Errorf("%d declared facts never reached on the page, want 1", sc.Unreached)
	}
	if sc.Nights != 2 || sc.Plots != 5 {
		t.Errorf("trend: %d nights and %d plots, want 2 and 5", sc.Nights, sc.Plots)
	}
	if len(sc.ReplayLinks) != len(sum.Groups) {
		t.Fatalf("replay links %v, want one per group (%d)", sc.ReplayLinks, len(sum.Groups))
	}
	for _, href := range sc.ReplayLinks {
		p := filepath.Join(dir, filepath.FromSlash(href))
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("replay link %s: %v", href, err)
		}
	}
	rp := render(t, bin, filepath.Join(dir, filepath.FromSlash(sc.ReplayLinks[0])))
	m := regexp.MustCompile(`(?s)<pre id="selfcheck"[^>]*>(.*?)</pre>`).FindStringSubmatch(rp)
	if m == nil || !strings.Contains(m[1], "&#34;failureDrawn&#34;:true") && !strings.Contains(m[1], `"failureDrawn":true`) {
		t.Fatalf("the replay page did not draw its failure: %.500s", m)
	}
	if strings.Contains(m[1], "errors&#34;:[&#34;") || strings.Contains(m[1], `"errors":["`) {
		t.Fatalf("the replay page has script errors: %s", m[1])
	}
}

// hostile is summary text that would run script or become markup if the
// page ever put it into the document unescaped.
const hostile = `</script><script>document.body.setAttribute("data-pwned","script")</script>` +
	`<img src=x onerror="document.body.setAttribute('data-pwned','img')"><b onclick=alert(1)>"'` + "\u2028\u2029"

// hostileSummary is a valid summary with hostile text in every string a
// page shows: scenario, variant, checker, message, file, repro, facts,
// metric names, problems and undecided runs.
func hostileSummary() *campaign.Summary {
	sc := "sys" + hostile + "/x" + hostile
	f := campaign.Failure{Scenario: sc, Variant: "v=" + hostile, Seed: 1, Checker: "c" + hostile, Message: "m" + hostile,
		File: "f/" + hostile + ".json", Repro: "dsim replay f/" + hostile + ".json", Moment: "w" + hostile}
	d := &campaign.Dist{}
	d.Add(3)
	s := &campaign.Summary{DsimVersion: hostile, FormatVersion: 1, Runs: 3, Passed: 1,
		Failures:  []campaign.Failure{f},
		Undecided: []string{sc + " seed 2: " + hostile},
		Problems:  []string{"p" + hostile},
		Seeds: []campaign.SeedRange{{Scenario: sc, Variant: "v=" + hostile, From: 1, Seeds: 3,
			Shard: campaign.Shard{Index: 0, Count: 1}, Runs: 3}},
		Coverage: map[string]*campaign.Facts{sc: {Reached: map[string]uint64{"r" + hostile: 1},
			Declared: []string{"d" + hostile}, DeclaredUnreached: []string{"d" + hostile}}},
		Work:    map[string]*campaign.Work{sc: {Runs: 1, Sum: 2, Min: 2, Max: 2, Mean: 2}},
		Metrics: map[string]map[string]*campaign.Dist{sc: {"m" + hostile: d}},
	}
	s.Groups = campaign.Groups(s.Failures)
	return s
}

// Hostile text in a summary (and in a trend's night names) is escaped on
// the page: in the raw HTML no tag or attribute of it survives, and in
// headless Chromium it runs no script and becomes no element, while the
// page's own script still runs (the CSP admits it by hash alone).
func TestReportEscapesHostileText(t *testing.T) {
	s := hostileSummary()
	tr := &Trend{}
	tr.Add("night"+hostile, s)
	tr.Add("n2"+hostile, &campaign.Summary{Seeds: s.Seeds})
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	rep := map[string]Replay{s.Groups[0].ID: {Href: "javascript:alert(1)//" + hostile}}
	var b bytes.Buffer
	if err := Write(&b, s, Options{Title: "t" + hostile, Trend: tr, Replays: rep}); err != nil {
		t.Fatal(err)
	}
	raw := b.String()
	var again bytes.Buffer
	if err := Write(&again, s, Options{Title: "t" + hostile, Trend: tr, Replays: rep}); err != nil || again.String() != raw {
		t.Fatalf("a second page of the same summary differs (err %v)", err)
	}
	for _, bad := range []string{"<img", "<b onclick", `<script>document`, "javascript:alert"} {
		if strings.Contains(raw, bad) {
			t.Fatalf("the raw page holds %q unescaped", bad)
		}
	}
	if !strings.Contains(raw, pageScript) || !strings.Contains(raw, pageStyle) {
		t.Fatal("the page's script or style is not the exact text its CSP hash allows")
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := needChromium(t)
	dom := render(t, bin, page)
	sc := pageSelfCheck(t, dom)
	if strings.Contains(dom, "data-pwned=") {
		t.Fatal("hostile summary text ran script")
	}
	if strings.Contains(dom, "<img") || strings.Contains(dom, "<b onclick") {
		t.Fatal("hostile summary text became markup")
	}
	if sc.Status != "FAIL (incomplete)" {
		t.Fatalf("status %q, want FAIL (incomplete): the summary has a problem", sc.Status)
	}
	if sc.Groups != 1 || sc.Unreached != 1 || sc.Scenarios != 1 || sc.Totals["undecided"] != 1 || sc.Nights != 2 {
		t.Fatalf("self-check %+v: want 1 group, 1 unreached fact, 1 scenario, 1 undecided, 2 nights", sc)
	}
	if len(sc.GoneMarks) != 1 || !strings.Contains(sc.GoneMarks[0], hostile[:20]) {
		t.Fatalf("gone marks %q: want the hostile group, as text", sc.GoneMarks)
	}

	// The CSP is enforced: a script the page did not ship (as if some
	// text had slipped through unescaped) is blocked, and the page says so.
	injected := strings.Replace(raw, "</body>", `<script>document.body.setAttribute("data-unhashed","ran")</script></body>`, 1)
	if err := os.WriteFile(page, []byte(injected), 0o644); err != nil {
		t.Fatal(err)
	}
	dom = render(t, bin, page)
	if strings.Contains(dom, `data-unhashed="ran"`) {
		t.Fatal("a script outside the CSP's hash ran")
	}
	if !strings.Contains(dom, "CSP blocked script-src") {
		t.Fatalf("no CSP violation reported by the page:\n%.2000s", dom)
	}
}
