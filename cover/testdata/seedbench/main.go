// Command seedbench measures what coverage costs per seed, with
// testing.Benchmark inside one binary built twice:
//
//	go build -o plain ./cover/testdata/seedbench
//	go build -cover -covermode=atomic -coverpkg=./nodes/...,./cover/testdata/seedbench -o instrumented ./cover/testdata/seedbench
//	./plain kv/unreliable; ./instrumented kv/unreliable
//
// It prints ns per seed of the scenario's seeds 1, 2, ... (seed), of the
// same under cover.Measure (measured, instrumented binary only) and of one
// cover.Reset and Snapshot alone (snapshot). The ratio of the instrumented
// binary's measured to the plain binary's seed is the per-seed overhead.
package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/smilingraft/dsim/cover"
	"github.com/smilingraft/dsim/scenarios"
	_ "github.com/smilingraft/dsim/scenarios/all"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: seedbench SCENARIO")
		os.Exit(2)
	}
	ss, err := scenarios.Match(os.Args[1:])
	if err != nil || len(ss) != 1 {
		fmt.Fprintln(os.Stderr, "seedbench: want one scenario:", err)
		os.Exit(2)
	}
	s := ss[0]
	report := func(name string, r testing.BenchmarkResult) {
		fmt.Printf("%-10s %s %d seeds %12d ns/seed\n", name, s.Name, r.N, r.NsPerOp())
	}
	report("seed", testing.Benchmark(func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			scenarios.Run(s, nil, uint64(i%20+1), scenarios.Config{})
		}
	}))
	if cover.Check() != nil {
		return
	}
	var seen cover.Set
	report("measured", testing.Benchmark(func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			p, err := cover.Measure(func() { scenarios.Run(s, nil, uint64(i%20+1), scenarios.Config{}) })
			if err != nil {
				b.Fatal(err)
			}
			seen.Add(p)
		}
	}))
	report("snapshot", testing.Benchmark(func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := cover.Measure(func() {}); err != nil {
				b.Fatal(err)
			}
		}
	}))
	t, _ := cover.Blocks()
	fmt.Printf("blocks %d, reached by the measured seeds %d\n", len(t.Blocks), seen.Len())
}
