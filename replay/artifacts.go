package replay

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
)

// ArtifactPath is where the artifact name (porcupine.html, ...) of the
// failure file at path lives: beside it, sharing its stem
// ("x.json" -> "x.porcupine.html"), so one listing shows both.
func ArtifactPath(path, name string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + "." + name
}

// WriteArtifacts writes a run's artifacts (scenarios.Result.Artifacts)
// beside the failure file at path, atomically each, and returns the paths
// written in name order. Names with a path separator are refused.
func WriteArtifacts(path string, files map[string][]byte) ([]string, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, `/\`) || strings.HasPrefix(n, ".") {
			return out, fmt.Errorf("artifact name %q: want a plain file name", n)
		}
		p := ArtifactPath(path, n)
		b := files[n]
		if err := WriteAtomic(p, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return out, fmt.Errorf("artifact %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}
