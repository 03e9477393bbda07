// Command guidedcov measures what plain and guided campaigns reach at equal
// CPU budgets: for each budget it runs `dsim campaign PATTERN... --workers 1`
// with GOMAXPROCS=1 three ways (plain seeds, --guided --signal facts,
// --guided --signal code), each with --cover so that all three pay the
// same instrumentation, stops it with SIGTERM once its user+system time
// passes the budget (the campaign then prints its summary so far; -modes
// adds --signal state), and
// prints a markdown table: runs made, declared facts reached, distinct
// (scenario, fact) pairs reached, code blocks of the systems under test
// reached by some run, and the guided search's own count of features
// (facts in hit-count buckets; with code, blocks in buckets too) and
// corpus entries.
//
//	go build -cover -covermode=atomic -coverpkg=./nodes/...,./cmd/dsim -o /tmp/dsim-cov ./cmd/dsim
//	go run ./scripts/guidedcov -bin /tmp/dsim-cov -cpu 10s,30s 'raft/*'
//
// It is a tool, not part of dsim.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/smilingraft/dsim/cover"
	"github.com/smilingraft/dsim/scripts/internal/proc"
)

type summary struct {
	Runs     uint64 `json:"runs"`
	Failures []struct {
		Scenario string `json:"scenario"`
		Checker  string `json:"checker"`
	} `json:"failures"`
	Coverage map[string]struct {
		Reached           map[string]uint64 `json:"reached"`
		Declared          []string          `json:"declared"`
		DeclaredUnreached []string          `json:"declared_unreached"`
	} `json:"coverage"`
	Guided *struct {
		Features int `json:"features"`
		Corpus   []struct {
			Run uint64 `json:"run"`
		} `json:"corpus"`
	} `json:"guided"`
}

type row struct {
	mode, budget                      string
	cpu                               float64
	runs                              uint64
	declared, declaredOf, facts, feat int
	blocks, blocksOf                  int
	failures                          int
	corpus                            int
}

func main() {
	bin := flag.String("bin", "", "a dsim binary built with coverage counters (see the doc comment)")
	cpus := flag.String("cpu", "10s", "comma-separated CPU budgets")
	from := flag.Uint64("from", 1, "first seed (and the guided search's seed)")
	modes := flag.String("modes", "plain,facts,code", "comma-separated: plain, facts, state or code (guided by that --signal)")
	flag.Parse()
	if *bin == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: guidedcov -bin DSIM [-cpu 10s,30s] [-from N] [-modes plain,facts,code] PATTERN...")
		os.Exit(2)
	}
	tmp, err := os.MkdirTemp("", "guidedcov-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	var rows []row
	for _, b := range strings.Split(*cpus, ",") {
		budget, err := time.ParseDuration(strings.TrimSpace(b))
		if err != nil || budget <= 0 {
			fail(fmt.Errorf("bad -cpu %q", b))
		}
		for _, mode := range strings.Split(*modes, ",") {
			r, err := measure(*bin, filepath.Join(tmp, mode+b), mode, budget, *from, flag.Args())
			if err != nil {
				fail(err)
			}
			rows = append(rows, r)
			fmt.Fprintf(os.Stderr, "guidedcov: %-6s %-5s cpu=%.1fs runs=%d declared=%d/%d facts=%d features=%d blocks=%d/%d failures=%d\n",
				r.mode, r.budget, r.cpu, r.runs, r.declared, r.declaredOf, r.facts, r.feat, r.blocks, r.blocksOf, r.failures)
		}
	}
	fmt.Printf("| CPU budget | campaign | runs | declared facts reached | facts reached | code blocks reached | search features (corpus) | failures |\n")
	fmt.Printf("|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		feat := "—"
		if r.feat >= 0 {
			feat = fmt.Sprintf("%d (%d)", r.feat, r.corpus)
		}
		fmt.Printf("| %s | %s | %d | %d of %d | %d | %d of %d | %s | %d |\n", r.budget, r.mode, r.runs, r.declared, r.declaredOf,
			r.facts, r.blocks, r.blocksOf, feat, r.failures)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "guidedcov:", err)
	os.Exit(2)
}

func measure(bin, dir, mode string, budget time.Duration, from uint64, patterns []string) (row, error) {
	r := row{mode: mode, budget: budget.String()}
	args := append([]string{"campaign"}, patterns...)
	args = append(args, "--seeds", "1000000", "--workers", "1", "--json", "--from", strconv.FormatUint(from, 10),
		"--out", filepath.Join(dir, "failures"), "--cover", filepath.Join(dir, "cover"), "--files-per-checker", "1")
	switch mode {
	case "plain":
	case "facts", "state", "code":
		args = append(args, "--guided", "--signal", mode)
	default:
		return r, fmt.Errorf("unknown mode %q", mode)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if _, err := proc.RunCapped(cmd, budget); cmd.ProcessState == nil {
		return r, err // it did not start
	}
	r.cpu = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	var s summary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		return r, fmt.Errorf("%s: summary: %v: %s", mode, err, proc.FirstLine(stderr.String(), 0))
	}
	r.runs, r.failures = s.Runs, len(s.Failures)
	for _, c := range s.Coverage {
		r.declaredOf += len(c.Declared)
		r.declared += len(c.Declared) - len(c.DeclaredUnreached)
		for _, n := range c.Reached {
			if n > 0 {
				r.facts++
			}
		}
	}
	if s.Guided != nil {
		r.feat, r.corpus = s.Guided.Features, len(s.Guided.Corpus)
	} else {
		r.feat = -1
	}
	d, err := cover.ReadData(filepath.Join(dir, "cover"))
	if err != nil {
		return r, fmt.Errorf("%s: %v", mode, err)
	}
	seen := map[uint64]bool{}
	for _, reach := range d.Scenarios {
		for _, b := range reach.Blocks {
			seen[b[0]] = true
		}
	}
	r.blocks, r.blocksOf = len(seen), len(d.Table.Blocks)
	return r, nil
}
