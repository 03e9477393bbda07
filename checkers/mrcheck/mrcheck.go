// Package mrcheck checks a MapReduce job's output the way the 6.5840 Lab 1
// tester (test-mr.sh) does, and more strictly: the sorted "key value" lines
// of every mr-out* file against a sequential run of the same application
// over the same inputs, every key exactly once, every reduce output file
// present, the jobcount total, map and reduce parallelism (mtiming,
// rtiming), early exit (output at the first process exit equals the final
// output), that the job finished, and online that a published file never
// changes (Published).
//
// It knows no node type: applications are passed as plain functions and
// files as names and bytes, so it may import only sim types and the
// standard library.
package mrcheck

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// KeyValue is one pair a map function emits. It is an alias of a plain
// struct type, so a system whose own pair type is the same struct (nodes/mr)
// passes its map output without copying it.
type KeyValue = struct {
	Key   string
	Value string
}

// File is one file: a name and its contents.
type File struct {
	Name string
	Data []byte
}

// MapFunc and ReduceFunc are an application's pure functions.
type (
	MapFunc    func(filename, contents string) []KeyValue
	ReduceFunc func(key string, values []string) string
)

// Sequential is mrsequential: one map over every input, a sort, one reduce
// per key; it returns the sorted "key value" lines.
func Sequential(inputs []File, mapf MapFunc, reducef ReduceFunc) []string {
	// Group values by key in input order, then reduce keys in sorted order:
	// the same as a stable sort of every pair, in O(n log k).
	groups := map[string][]string{}
	var keys []string
	for _, in := range inputs {
		for _, kv := range mapf(in.Name, string(in.Data)) {
			if _, ok := groups[kv.Key]; !ok {
				keys = append(keys, kv.Key)
			}
			groups[kv.Key] = append(groups[kv.Key], kv.Value)
		}
	}
	sort.Strings(keys)
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		lines = append(lines, k+" "+reducef(k, groups[k]))
	}
	sort.Strings(lines)
	return lines
}

// Output collects the lines of every file whose name starts with "mr-out",
// drops empty lines and sorts them: `sort mr-out* | grep .`.
func Output(files []File) []string {
	var lines []string
	for _, f := range files {
		if !strings.HasPrefix(f.Name, "mr-out") {
			continue
		}
		for _, l := range strings.Split(string(f.Data), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
	}
	sort.Strings(lines)
	return lines
}

// Equal checks that got equals want line for line, naming the first
// difference and the line counts.
func Equal(got, want []string) error {
	n := min(len(got), len(want))
	for i := 0; i < n; i++ {
		if got[i] != want[i] {
			return fmt.Errorf("output differs from the sequential run at sorted line %d: got %q, want %q (%d lines, want %d)",
				i+1, got[i], want[i], len(got), len(want))
		}
	}
	switch {
	case len(got) < len(want):
		return fmt.Errorf("output is missing lines: %d lines, want %d; first missing %q", len(got), len(want), want[len(got)])
	case len(got) > len(want):
		return fmt.Errorf("output has extra lines: %d lines, want %d; first extra %q", len(got), len(want), got[len(want)])
	}
	return nil
}

// KeysOnce checks that every key (the text before the first space) appears
// on exactly one output line: no reduce output duplicated.
func KeysOnce(lines []string) error {
	seen := map[string]int{}
	for i, l := range lines {
		k, _, _ := strings.Cut(l, " ")
		if j, ok := seen[k]; ok {
			return fmt.Errorf("key %q is output twice (lines %q and %q): a duplicated reduce output", k, lines[j], l)
		}
		seen[k] = i
	}
	return nil
}

// OutputFiles checks that exactly mr-out-0 .. mr-out-(nReduce-1) exist
// among names: no reduce output missing, none extra.
func OutputFiles(names []string, nReduce int) error {
	have := map[string]bool{}
	for _, n := range names {
		if strings.HasPrefix(n, "mr-out") {
			have[n] = true
		}
	}
	for y := 0; y < nReduce; y++ {
		n := "mr-out-" + strconv.Itoa(y)
		if !have[n] {
			return fmt.Errorf("reduce output %s is missing", n)
		}
		delete(have, n)
	}
	if len(have) > 0 {
		extra := make([]string, 0, len(have))
		for n := range have {
			extra = append(extra, n)
		}
		sort.Strings(extra)
		return fmt.Errorf("unexpected output files %v", extra)
	}
	return nil
}

// JobCount checks the jobcount application's output: a single line whose
// value is exactly want (the number of map tasks), i.e. every map task ran
// exactly once.
func JobCount(lines []string, want int) error {
	if len(lines) != 1 {
		return fmt.Errorf("jobcount output has %d lines, want 1: %q", len(lines), lines)
	}
	_, v, _ := strings.Cut(lines[0], " ")
	if v != strconv.Itoa(want) {
		return fmt.Errorf("map tasks ran %s times in all, want exactly %d (a task re-issued while still running, or one lost)", v, want)
	}
	return nil
}

// MapParallelism checks mtiming's output: exactly workers distinct
// times-<pid> keys (every worker ran maps) and some parallel-<pid> value
// list containing a count of at least 2 (maps overlapped).
func MapParallelism(lines []string, workers int) error {
	times, parallel := 0, false
	for _, l := range lines {
		k, v, _ := strings.Cut(l, " ")
		switch {
		case strings.HasPrefix(k, "times-"):
			times++
		case strings.HasPrefix(k, "parallel-"):
			for _, f := range strings.Fields(v) {
				if n, err := strconv.Atoi(f); err == nil && n >= 2 {
					parallel = true
				}
			}
		}
	}
	if times != workers {
		return fmt.Errorf("%d workers ran map tasks, want %d: tasks are not handed to every worker", times, workers)
	}
	if !parallel {
		return fmt.Errorf("no map ran while another was running: maps are not parallel")
	}
	return nil
}

// ReduceParallelism checks rtiming's output: at least two lines "<letter> N"
// with N >= 2 (reduces overlapped).
func ReduceParallelism(lines []string) error {
	n := 0
	for _, l := range lines {
		k, v, _ := strings.Cut(l, " ")
		c, err := strconv.Atoi(v)
		if len(k) == 1 && k[0] >= 'a' && k[0] <= 'z' && err == nil && c >= 2 {
			n++
		}
	}
	if n < 2 {
		return fmt.Errorf("only %d reduces saw another running, want at least 2: reduces are not parallel", n)
	}
	return nil
}

// EarlyExit checks that the output captured when the first process exited
// equals the final output: no process exits before the job is done.
func EarlyExit(atFirstExit, final []string) error {
	if err := Equal(atFirstExit, final); err != nil {
		return fmt.Errorf("output at the first exit is not the final output: %v", err)
	}
	return nil
}

// Finished is the job-finished liveness condition: nil once done, else an
// error naming the unfinished tasks.
func Finished(done bool, pending []string) error {
	if done {
		return nil
	}
	if len(pending) > 8 {
		pending = append(pending[:8:8], "...")
	}
	return fmt.Errorf("job not done; unfinished tasks %v", pending)
}

// Published is the online check that a published file never changes: the
// first time a watched file is seen to exist it counts as published (for
// the safe protocol, that is the atomic rename), and from then on every
// sighting must show exactly the same bytes, across crashes and restarts of
// the file system too. A rewrite in place, a rename that replaces a
// published file with other bytes, or a publication that a crash of the file
// system undoes (no fsync) all break it.
//
// Sightings are cheap when nothing changed: the bytes are compared only
// when the slice differs from the one recorded.
type Published struct {
	// Watch says which names are checked (nil: every name).
	Watch func(name string) bool

	files map[string][]byte
}

// Saw records one sighting of file name: its bytes, and whether it exists.
// It returns the violation, if any.
func (p *Published) Saw(name string, data []byte, exists bool) error {
	if p.Watch != nil && !p.Watch(name) {
		return nil
	}
	old, published := p.files[name]
	switch {
	case !published && exists:
		if p.files == nil {
			p.files = map[string][]byte{}
		}
		p.files[name] = data
		return nil
	case !published:
		return nil
	case !exists:
		return fmt.Errorf("published file %s (%d bytes) disappeared", name, len(old))
	case len(old) == len(data) && (len(data) == 0 || &old[0] == &data[0]):
		return nil
	case !bytes.Equal(old, data):
		i := 0
		for i < len(old) && i < len(data) && old[i] == data[i] {
			i++
		}
		return fmt.Errorf("published file %s changed: %d bytes, now %d, first difference at byte %d", name, len(old), len(data), i)
	}
	p.files[name] = data // same bytes in a new slice: compare that next time
	return nil
}

// Names returns the published names, sorted.
func (p *Published) Names() []string {
	out := make([]string, 0, len(p.files))
	for n := range p.files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
