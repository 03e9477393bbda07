// Command tracehash prints the trace hash of every registered scenario
// (safe and unsafe) for seeds 1..N, one line per run in a fixed order, so
// that a change meant to be behaviour-neutral (a speed-up) can be checked by
// diffing the output of the build before and after it:
//
//	go run ./scripts/tracehash -seeds 3 > before.txt
//	... change ...
//	go run ./scripts/tracehash -seeds 3 | diff before.txt -
//
// Each line is "scenario seed verdict events hash"; the verdict is pass,
// fail:CHECKER or undecided. It is a tool, not part of dsim: it may import
// anything in the module and the standard library.
package main

import (
	"flag"
	"fmt"
	"os"
	"path"
	"runtime"
	"sync"

	"github.com/smilingraft/dsim/scenarios"
	_ "github.com/smilingraft/dsim/scenarios/all"
)

func main() {
	seeds := flag.Int("seeds", 3, "seeds 1..N of every scenario")
	match := flag.String("match", "", "only scenarios whose name matches this path.Match pattern (kv/*); empty: all")
	workers := flag.Int("workers", runtime.NumCPU(), "parallel runs")
	flag.Parse()
	if *seeds < 1 || *workers < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "tracehash: usage: tracehash [-seeds N] [-match GLOB] [-workers N]")
		os.Exit(2)
	}
	if _, err := path.Match(*match, ""); err != nil {
		fmt.Fprintf(os.Stderr, "tracehash: bad -match: %v\n", err)
		os.Exit(2)
	}
	type job struct {
		s    *scenarios.Scenario
		seed uint64
	}
	var jobs []job
	for _, s := range scenarios.All() {
		if ok, _ := path.Match(*match, s.Name); *match != "" && !ok {
			continue
		}
		for seed := 1; seed <= *seeds; seed++ {
			jobs = append(jobs, job{s, uint64(seed)})
		}
	}
	lines := make([]string, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				res := scenarios.Run(j.s, nil, j.seed, scenarios.Config{})
				verdict := "pass"
				switch {
				case res.Failure != nil:
					verdict = "fail:" + res.Failure.Checker
				case !res.Passed:
					verdict = "undecided"
				}
				lines[i] = fmt.Sprintf("%s %d %s %d %s", j.s.Name, j.seed, verdict, res.Events, res.TraceHash)
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, l := range lines {
		fmt.Println(l)
	}
}
