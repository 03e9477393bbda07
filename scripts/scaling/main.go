// Command scaling measures how a campaign scales from one worker to two,
// against what two independent processes get on the same machine, side by
// side in one run (issue 26). For each pattern it runs the same seeds:
//
//	A: one process, --workers 1                 (the yardstick)
//	B: one process, --workers 2                 (speedup A/B)
//	C: two processes at once, --workers 1 each, both running all the seeds
//	   (twice the work: speedup 2A/C)
//
// and prints B's speedup as a share of C's: 100% means two workers in one
// process lose nothing to sharing a heap and a garbage collector. Each
// configuration runs -rounds times, interleaved (A B C A B C ...), and the
// median wall time is used, so that slow drift of the machine's load hits
// all three alike.
//
//	go run ./scripts/scaling -seeds 40 raft/* kv/*
//
// It is a tool, not part of dsim: it builds dsim and runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"
)

func main() {
	seeds := flag.Int("seeds", 40, "seeds per scenario")
	rounds := flag.Int("rounds", 3, "runs of each configuration (median kept)")
	flag.Parse()
	pats := flag.Args()
	if len(pats) == 0 {
		pats = []string{"raft/*", "kv/*", "rsm/*", "shardkv/*"}
	}
	if *seeds < 1 || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "scaling: -seeds and -rounds must be at least 1")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "dsim-scaling-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaling:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "dsim")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/dsim").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "scaling: go build: %v\n%s", err, out)
		os.Exit(1)
	}
	fmt.Printf("| pattern | seeds | 1 worker | 2 workers (speedup) | 2 processes (speedup) | 2 workers / 2 processes |\n|---|---|---|---|---|---|\n")
	for _, pat := range pats {
		run := func(workers int, tag string) time.Duration {
			start := time.Now()
			cmd := exec.Command(bin, "campaign", pat, "--seeds", strconv.Itoa(*seeds),
				"--workers", strconv.Itoa(workers), "--shard", "0/1", // never a job engine's shard
				"--out", filepath.Join(dir, tag))
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "scaling: %s: %v\n%s", pat, err, out)
				os.Exit(1)
			}
			return time.Since(start)
		}
		var a, b, c []time.Duration
		for r := 0; r < *rounds; r++ {
			a = append(a, run(1, "a"))
			b = append(b, run(2, "b"))
			var wg sync.WaitGroup
			start := time.Now()
			for p := 0; p < 2; p++ {
				wg.Add(1)
				go func(p int) { defer wg.Done(); run(1, "c"+strconv.Itoa(p)) }(p)
			}
			wg.Wait()
			c = append(c, time.Since(start))
		}
		ma, mb, mc := median(a), median(b), median(c)
		sb, sc := ma.Seconds()/mb.Seconds(), 2*ma.Seconds()/mc.Seconds()
		fmt.Printf("| %s | %d | %.2fs | %.2fs (%.2fx) | %.2fs (%.2fx) | %.1f%% |\n",
			pat, *seeds, ma.Seconds(), mb.Seconds(), sb, mc.Seconds(), sc, 100*sb/sc)
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
