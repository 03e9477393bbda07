package mrcheck

import (
	"strconv"
	"strings"
	"testing"
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
