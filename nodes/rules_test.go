package nodes

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// forbidden are the imports that would let node code escape the simulation:
// real time, threads, I/O, global randomness, memory tricks.
var forbidden = map[string]bool{
	"time": true, "sync": true, "sync/atomic": true, "os": true, "os/exec": true,
	"math/rand": true, "math/rand/v2": true, "crypto/rand": true, "unsafe": true,
	"net": true, "net/http": true, "io/ioutil": true, "runtime": true, "syscall": true,
	"reflect": true, "context": true, "log": true,
}

// violations lists the determinism-rule violations in the Go source files
// (tests excluded) under dir.
func violations(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if forbidden[p] {
				out = append(out, fset.Position(imp.Pos()).String()+": imports "+p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n.(type) {
			case *ast.GoStmt:
				out = append(out, fset.Position(n.Pos()).String()+": go statement")
			case *ast.ChanType:
				out = append(out, fset.Position(n.Pos()).String()+": channel type")
			case *ast.SelectStmt:
				out = append(out, fset.Position(n.Pos()).String()+": select statement")
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNodesObeyDeterminismRules(t *testing.T) {
	for _, v := range violations(t, ".") {
		t.Error(v)
	}
}

// TestRuleCheckerCatchesViolations feeds the checker a deliberately bad
// package so that the rule test above cannot pass vacuously.
func TestRuleCheckerCatchesViolations(t *testing.T) {
	dir := t.TempDir()
	bad := `package bad
import ("time"; "sync"; "math/rand")
var mu sync.Mutex
func f() { go func() {}(); c := make(chan int); select { case <-c: }; _ = time.Now(); _ = rand.Int() }
`
	if err := os.WriteFile(filepath.Join(dir, "bad.go"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(violations(t, dir), "\n")
	for _, want := range []string{"imports time", "imports sync", "imports math/rand", "go statement", "channel type", "select statement"} {
		if !strings.Contains(got, want) {
			t.Errorf("checker missed %q; found:\n%s", want, got)
		}
	}
}
