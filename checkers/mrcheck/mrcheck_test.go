package mrcheck

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func wcMap(_, contents string) []KeyValue {
	var kva []KeyValue
	for _, w := range strings.Fields(contents) {
		kva = append(kva, KeyValue{w, "1"})
	}
	return kva
}

func wcReduce(_ string, values []string) string { return strconv.Itoa(len(values)) }

var inputs = []File{{"a.txt", []byte("x y x")}, {"b.txt", []byte("y z x")}}

func TestSequential(t *testing.T) {
	got := Sequential(inputs, wcMap, wcReduce)
	want := []string{"x 3", "y 2", "z 1"}
	if err := Equal(got, want); err != nil {
		t.Fatal(err)
	}
}

func TestOutputSortsAndDropsEmpty(t *testing.T) {
	files := []File{{"mr-out-1", []byte("z 1\n\ny 2\n")}, {"mr-out-0", []byte("x 3\n")}, {"mr-0-1", []byte("junk\n")}}
	if err := Equal(Output(files), []string{"x 3", "y 2", "z 1"}); err != nil {
		t.Fatal(err)
	}
}

func TestEqualCatches(t *testing.T) {
	want := Sequential(inputs, wcMap, wcReduce)
	cases := map[string][]File{
		"missing key":    {{"mr-out-0", []byte("x 3\ny 2\n")}},
		"doubled count":  {{"mr-out-0", []byte("x 6\ny 2\nz 1\n")}},
		"duplicate line": {{"mr-out-0", []byte("x 3\ny 2\nz 1\n")}, {"mr-out-1", []byte("z 1\n")}},
		"partial line":   {{"mr-out-0", []byte("x 3\ny 2\nz")}},
	}
	for name, files := range cases {
		if err := Equal(Output(files), want); err == nil {
			t.Errorf("%s: not caught", name)
		}
	}
	if err := Equal(Output([]File{{"mr-out-0", []byte("y 2\nx 3\n")}, {"mr-out-1", []byte("z 1\n")}}), want); err != nil {
		t.Errorf("correct output rejected: %v", err)
	}
}

func TestKeysOnceCatchesDuplicatedReduce(t *testing.T) {
	// A reduce output written twice (one partition appended to itself).
	lines := Output([]File{{"mr-out-0", []byte("x 3\ny 2\nx 3\n")}})
	if err := KeysOnce(lines); err == nil {
		t.Fatal("duplicated key not caught")
	}
	if err := KeysOnce([]string{"x 3", "y 2"}); err != nil {
		t.Fatal(err)
	}
}

func TestOutputFiles(t *testing.T) {
	if err := OutputFiles([]string{"mr-out-0", "mr-out-2", "mr-0-1"}, 3); err == nil {
		t.Fatal("missing mr-out-1 not caught")
	}
	if err := OutputFiles([]string{"mr-out-0", "mr-out-1", "mr-out-1x"}, 2); err == nil {
		t.Fatal("extra output file not caught")
	}
	if err := OutputFiles([]string{"mr-out-0", "mr-out-1", "mr-tmp-w0"}, 2); err != nil {
		t.Fatal(err)
	}
}

func TestJobCount(t *testing.T) {
	if err := JobCount([]string{"a 8"}, 8); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"a 9"}, {"a 16"}, {"a 7"}, {"a 8", "a 8"}, nil} {
		if err := JobCount(bad, 8); err == nil {
			t.Errorf("%q not caught", bad)
		}
	}
}

func TestMapParallelism(t *testing.T) {
	good := []string{"parallel-w0.0 1 2 2 2", "parallel-w1.0 2 2 2 2", "times-w0.0 0.1 1.1", "times-w1.0 0.1 1.1"}
	if err := MapParallelism(good, 2); err != nil {
		t.Fatal(err)
	}
	serial := []string{"parallel-w0.0 1 1 1 1", "parallel-w1.0 1 1 1 1", "times-w0.0 0.1", "times-w1.0 1.1"}
	if err := MapParallelism(serial, 2); err == nil {
		t.Fatal("serial maps not caught")
	}
	oneWorker := []string{"parallel-w0.0 1 2 1", "times-w0.0 0.1"}
	if err := MapParallelism(oneWorker, 2); err == nil {
		t.Fatal("a worker that ran no map not caught")
	}
}

func TestReduceParallelism(t *testing.T) {
	if err := ReduceParallelism([]string{"a 1", "b 2", "c 1", "d 2"}); err != nil {
		t.Fatal(err)
	}
	if err := ReduceParallelism([]string{"a 1", "b 2", "c 1", "d 1"}); err == nil {
		t.Fatal("serial reduces not caught")
	}
}

func TestEarlyExit(t *testing.T) {
	final := []string{"x 3", "y 2", "z 1"}
	if err := EarlyExit([]string{"x 3", "y 2"}, final); err == nil {
		t.Fatal("output missing at first exit not caught")
	}
	if err := EarlyExit(final, final); err != nil {
		t.Fatal(err)
	}
}

func TestFinished(t *testing.T) {
	if err := Finished(false, []string{"m1", "r3"}); err == nil || !strings.Contains(err.Error(), "r3") {
		t.Fatalf("unfinished job not reported: %v", err)
	}
	if err := Finished(true, nil); err != nil {
		t.Fatal(err)
	}
}

// TestPublishedCatchesChanges feeds the online check histories of one file:
// the safe ones (published once; seen again with the same bytes, in the same
// or a new slice; unwatched files changing) pass, and each real violation
// (rewritten in place, grown, truncated, replaced by another attempt's
// bytes, lost by a crash) is named.
func TestPublishedCatchesChanges(t *testing.T) {
	type sighting struct {
		data   string
		exists bool
	}
	watch := func(name string) bool { return strings.HasPrefix(name, "mr-out") }
	cases := []struct {
		name    string
		file    string
		history []sighting
		want    string // "" when the history is legal
	}{
		{"published once, seen again", "mr-out-0", []sighting{{"", false}, {"a 1\n", true}, {"a 1\n", true}}, ""},
		{"unwatched file changes", "mr-tmp-w0.1-3", []sighting{{"a", true}, {"ab", true}, {"", false}}, ""},
		{"grown in place", "mr-out-0", []sighting{{"a 1\n", true}, {"a 1\nb 2\n", true}}, "changed: 4 bytes, now 8, first difference at byte 4"},
		{"truncated by a late create", "mr-out-0", []sighting{{"a 1\nb 2\n", true}, {"a 1\n", true}}, "changed: 8 bytes, now 4"},
		{"replaced by another attempt", "mr-out-3", []sighting{{"a 1\n", true}, {"a 2\n", true}}, "first difference at byte 2"},
		{"lost by a crash", "mr-out-1", []sighting{{"a 1\n", true}, {"", false}}, "mr-out-1 (4 bytes) disappeared"},
	}
	for _, tc := range cases {
		p := &Published{Watch: watch}
		var err error
		for _, s := range tc.history {
			if err = p.Saw(tc.file, []byte(s.data), s.exists); err != nil {
				break
			}
		}
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: legal history refused: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestPublishedFastPath: a sighting of the very slice recorded is accepted
// without comparing, and a new slice with the same bytes is recorded so the
// next sighting of it is fast too; Names lists what was published.
func TestPublishedFastPath(t *testing.T) {
	p := &Published{}
	b := []byte("x 1\n")
	for i := 0; i < 3; i++ {
		if err := p.Saw("mr-out-0", b, true); err != nil {
			t.Fatal(err)
		}
	}
	c := append([]byte(nil), b...)
	if err := p.Saw("mr-out-0", c, true); err != nil {
		t.Fatal(err)
	}
	if &p.files["mr-out-0"][0] != &c[0] {
		t.Fatalf("the equal new slice was not recorded")
	}
	if err := p.Saw("mr-1-0", nil, true); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"mr-1-0", "mr-out-0"}, p.Names()); diff != "" {
		t.Fatalf("Names (-want +got):\n%s", diff)
	}
	if err := p.Saw("mr-1-0", []byte{}, true); err != nil {
		t.Fatalf("an empty published file seen empty again: %v", err)
	}
}
