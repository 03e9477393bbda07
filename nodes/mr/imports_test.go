package mr

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// forbidden are the imports DESIGN.md's determinism rules ban under nodes/.
var forbidden = map[string]bool{
	"time": true, "sync": true, "sync/atomic": true, "os": true, "math/rand": true,
	"math/rand/v2": true, "unsafe": true, "os/exec": true, "runtime": true,
}

// violations lists determinism-rule violations in one Go source file.
func violations(fset *token.FileSet, f *ast.File) []string {
	var out []string
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
		case *ast.SendStmt:
			out = append(out, fset.Position(n.Pos()).String()+": channel send")
		}
		return true
	})
	return out
}

func TestDeterminismImportRules(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, v := range violations(fset, f) {
			t.Error(v)
		}
	}
	if n == 0 {
		t.Fatal("no source files checked")
	}
}

// TestImportRuleCatches feeds the rule a file that breaks it, so the rule
// test cannot pass vacuously.
func TestImportRuleCatches(t *testing.T) {
	src := `package bad
import ("time"; "sync"; "math/rand")
func f() { c := make(chan int); go func() { c <- 1 }(); select {}; _ = time.Now; _ = rand.Int; var m sync.Mutex; _ = &m }`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "bad.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(violations(fset, f), "\n")
	for _, want := range []string{"imports time", "imports sync", "imports math/rand", "go statement", "channel type", "select statement", "channel send"} {
		if !strings.Contains(got, want) {
			t.Errorf("rule missed %q in:\n%s", want, got)
		}
	}
}
