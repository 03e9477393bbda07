package campaign

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSummaryDecoder feeds arbitrary bytes to what `dsim campaign merge`
// reads. The seed corpus is real summaries (testdata/summaries: a shard
// with failures, a time-bounded shard, the last seeds before 2^64-1, a
// complete merge and a merge missing a shard), so `go test` replays them
// in CI; `go test -run '^$' -fuzz FuzzSummaryDecoder ./campaign` searches
// further. Properties: no panic, no unbounded work; a summary ParseSummary
// accepts merges with itself without error, counted once; and the merged
// summary, encoded again, is accepted too.
func FuzzSummaryDecoder(f *testing.F) {
	// Built as a libFuzzer binary (.clusterfuzzlite) it runs away from
	// testdata; the inline seeds below remain.
	files, _ := filepath.Glob(filepath.Join("testdata", "summaries", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := ParseSummary(p, b); err != nil {
			f.Fatalf("seed %s is refused: %v", p, err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"seeds":[{"scenario":"x","from":0,"seeds":0,"shard":{"index":0,"count":100000000},"runs":0}]}`))
	f.Add([]byte(`{"runs":1,"passed":1,"seeds":[{"scenario":"x","from":18446744073709551615,"seeds":1,"shard":{"index":-1,"count":3},"shards":[2,0],"runs":1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSummary("fuzz", b)
		if err != nil {
			return
		}
		m, err := Merge([]*Summary{s, s})
		if err != nil {
			t.Fatalf("a valid summary merged with itself: %v", err)
		}
		if m.Runs != s.Runs || m.Passed != s.Passed || len(m.Failures) != len(s.Failures) {
			t.Fatalf("a summary merged with itself counted twice: runs %d -> %d", s.Runs, m.Runs)
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseSummary("merged", out); err != nil {
			t.Fatalf("merge wrote a summary merge refuses: %v\n%s", err, out)
		}
	})
}
