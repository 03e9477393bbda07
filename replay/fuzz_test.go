package replay

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds the failure-file decoder arbitrary bytes, seeded with real
// failure files (testdata/failures: campaign finds of three systems, one
// with a variant, one shrunk). Whatever the input, Parse must not panic,
// must refuse with one line wrapping ErrBadFile, and what it accepts must
// survive a write and a second parse unchanged, with a name that stays in
// its directory. CI runs it briefly (-fuzztime) and ClusterFuzzLite longer.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "failures", "*.json"))
	if len(seeds) == 0 {
		f.Fatal("no seed failure files in testdata/failures")
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"format_version":1,"scenario":"counter/basic","failure":{"checker":"x"},"plan":[{"kind":"crash","node":9}]}`))
	f.Add([]byte(`{"format_version":1,"scenario":"counter/basic","failure":{"checker":"x"},"plan":[{"kind":"clog","delay_ns":9223372036854775807}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse("fuzz.json", b)
		if err != nil {
			if !errors.Is(err, ErrBadFile) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line wrapping ErrBadFile: %q", err)
			}
			return
		}
		if n := file.Name(); strings.ContainsAny(n, "/\\") || strings.HasPrefix(n, ".") {
			t.Fatalf("name %q leaves its directory or hides", n)
		}
		again, err := json.Marshal(file)
		if err != nil {
			t.Fatalf("accepted file does not marshal: %v", err)
		}
		back, err := Parse("again.json", again)
		if err != nil {
			t.Fatalf("accepted file refused after a round trip: %v", err)
		}
		if a, b := mustJSON(t, file), mustJSON(t, back); a != b {
			t.Fatalf("round trip changed the file:\n%s\n%s", a, b)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
