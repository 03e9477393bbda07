// Package headless finds a headless-capable Chromium and renders a page with
// it, for the tests that load dsim's offline HTML pages (the run page, the
// campaign report) in a real browser and read back what their script drew.
// It is test support: it imports only the standard library.
package headless

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Browser returns a headless-capable Chromium or Chrome binary: $DSIM_CHROMIUM,
// else the first of the usual names on PATH, else "".
func Browser() string {
	if p := os.Getenv("DSIM_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// Need returns Browser, or skips t when there is none (CI installs one).
func Need(t testing.TB) string {
	t.Helper()
	bin := Browser()
	if bin == "" {
		t.Skip("SKIPPED: no chromium binary on PATH (Debian package 'chromium'; .ci/run installs it with apt)")
	}
	return bin
}

// Render loads the page file in headless bin and returns its DOM after the
// page's script ran (two seconds of virtual time, at most a minute).
func Render(t testing.TB, bin, page string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+filepath.Join(t.TempDir(), "profile"),
		"--window-size=1280,900", "--virtual-time-budget=2000", "--dump-dom", "file://"+page)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return dom
}
