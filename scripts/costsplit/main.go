// Command costsplit says where a CPU profile's time goes, by dsim package:
// each sample is charged to the innermost frame that belongs to dsim (the
// kernel, a node package, a checker, the harnesses), or to the garbage
// collector when the garbage collector's own goroutines took it, and the
// share of each that is spent inside the allocator is shown beside it.
//
//	go test ./scenarios/all -run '^$' -bench 'Stack/shardkv$' -benchtime 40x -cpuprofile cpu.prof -o all.test
//	go run ./scripts/costsplit all.test cpu.prof
//
// It reads `go tool pprof -traces`. It is a tool, not part of dsim: it
// imports only the standard library and runs the go command.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

const module = "github.com/smilingraft/dsim/"

var sampleRe = regexp.MustCompile(`^\s*([0-9.]+)(ns|us|µs|ms|s)\s+(.*)$`)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "costsplit: usage: costsplit BINARY PROFILE")
		os.Exit(2)
	}
	out, err := exec.Command("go", "tool", "pprof", "-traces", os.Args[1], os.Args[2]).Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "costsplit: go tool pprof: %v\n", err)
		os.Exit(1)
	}
	total, byCat, inMalloc := split(string(out))
	if total == 0 {
		fmt.Fprintln(os.Stderr, "costsplit: no samples in the profile")
		os.Exit(1)
	}
	cats := make([]string, 0, len(byCat))
	for c := range byCat {
		cats = append(cats, c)
	}
	sort.Slice(cats, func(i, j int) bool {
		if byCat[cats[i]] != byCat[cats[j]] {
			return byCat[cats[i]] > byCat[cats[j]]
		}
		return cats[i] < cats[j]
	})
	fmt.Printf("%-34s %9s %6s %14s\n", "where", "seconds", "share", "in the allocator")
	for _, c := range cats {
		fmt.Printf("%-34s %9.2f %5.1f%% %13.1f%%\n", c, byCat[c], 100*byCat[c]/total, 100*inMalloc[c]/max(byCat[c], 1e-12))
	}
	fmt.Printf("%-34s %9.2f\n", "total", total)
}

// split parses pprof's -traces output: blocks of frames, leaf first, the
// first line carrying the sample's time.
func split(traces string) (total float64, byCat, inMalloc map[string]float64) {
	byCat, inMalloc = map[string]float64{}, map[string]float64{}
	for _, block := range strings.Split(traces, "-----------+") {
		var secs float64
		var frames []string
		for _, line := range strings.Split(block, "\n") {
			if m := sampleRe.FindStringSubmatch(line); m != nil && frames == nil {
				v, _ := strconv.ParseFloat(m[1], 64)
				secs = v * map[string]float64{"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1}[m[2]]
				frames = append(frames, strings.TrimSpace(m[3]))
			} else if frames != nil && strings.TrimSpace(line) != "" {
				frames = append(frames, strings.TrimSpace(line))
			}
		}
		if secs == 0 {
			continue
		}
		c := category(frames)
		total += secs
		byCat[c] += secs
		for _, f := range frames {
			if strings.HasPrefix(f, "runtime.mallocgc") || f == "runtime.newobject" || f == "runtime.growslice" || f == "runtime.makeslice" {
				inMalloc[c] += secs
				break
			}
		}
	}
	return total, byCat, inMalloc
}

// category is the innermost dsim package among frames (leaf first), the
// garbage collector for its background workers, else "other".
func category(frames []string) string {
	for _, f := range frames {
		for _, gc := range []string{"runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcAssistAlloc", "runtime.GC"} {
			if strings.HasPrefix(f, gc) {
				return "GC (background, assists, scavenger)"
			}
		}
	}
	for _, f := range frames {
		i := strings.Index(f, module)
		if i < 0 {
			continue
		}
		pkg := f[i+len(module):]
		if j := strings.IndexAny(pkg, ".("); j >= 0 {
			pkg = pkg[:j]
		}
		pkg = strings.TrimSuffix(pkg, "_test")
		switch {
		case strings.HasPrefix(pkg, "scenarios"):
			return "scenarios (harnesses, workloads)"
		case pkg == "sim":
			return "sim (the kernel)"
		}
		return pkg
	}
	for _, f := range frames {
		if strings.Contains(f, "porcupine") {
			return "checkers/kvcheck (porcupine)"
		}
	}
	return "other"
}
