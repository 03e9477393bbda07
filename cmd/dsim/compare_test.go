package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompareBadInputIsOneLineExit2(t *testing.T) {
	for name, args := range map[string][]string{
		"one variant":          {"compare", "raft/initial-election", "--variant", "raft.prevote=true", "--seeds", "2"},
		"no variant":           {"compare", "raft/initial-election", "--seeds", "2"},
		"seeds 0":              {"compare", "raft/initial-election", "--variant", "", "--variant", "raft.prevote=true", "--seeds", "0"},
		"unknown variant key":  {"compare", "raft/initial-election", "--variant", "raft.nosuch=1", "--variant", "raft.prevote=true", "--seeds", "2"},
		"unknown metric":       {"compare", "raft/initial-election", "--variant", "", "--variant", "raft.prevote=true", "--seeds", "2", "--metric", "nosuch_ns"},
		"unknown scenario":     {"compare", "raft/nosuch", "--variant", "", "--variant", "raft.prevote=true"},
		"list as a variant":    {"compare", "raft/initial-election", "--variant", "raft.election_min_ms=150,300", "--variant", "", "--seeds", "2"},
		"sweep of one value":   {"compare", "raft/initial-election", "--sweep", "raft.election_min_ms=150", "--seeds", "2"},
		"sweep with two bases": {"compare", "raft/initial-election", "--sweep", "raft.election_min_ms=150,300", "--variant", "", "--variant", "", "--seeds", "2"},
		"sweep out of range":   {"compare", "raft/initial-election", "--sweep", "raft.election_min_ms=150,900", "--seeds", "2"},
	} {
		r := dsim(t, nil, args...)
		lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
		if r.code != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], "dsim compare: ") || r.stdout != "" {
			t.Errorf("%s: exit %d, stderr %q, stdout %q; want exit 2 and one line", name, r.code, r.stderr, r.stdout)
		}
	}
	if r := dsim(t, nil, "compare", "raft/initial-election", "--variant", "raft.election_min_ms=150,300", "--variant", ""); !strings.Contains(r.stderr, "--sweep raft.election_min_ms=") {
		t.Errorf("a comma list given to --variant does not point to --sweep: %q", r.stderr)
	}
}

func TestCompareWritesTableBenchFilesAndPlots(t *testing.T) {
	dir := t.TempDir()
	r := dsim(t, nil, "compare", "raft/initial-election", "--sweep", "raft.election_min_ms=150,300,600", "--variant", "raft.election_max_ms=1200",
		"--seeds", "4", "--bench-out", filepath.Join(dir, "bench"), "--plot", filepath.Join(dir, "plots"), "--metric", "first_leader_ns")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"seeds 1..4, 3 variants", "first_leader_ns", "vs A", "raft.election_min_ms=600"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, f := range []string{"bench/a.txt", "bench/b.txt", "bench/c.txt", "bench/all.txt", "plots/first_leader_ns-sweep.png", "plots/first_leader_ns-cdf.svg"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	all, _ := os.ReadFile(filepath.Join(dir, "bench/all.txt"))
	if !strings.Contains(string(all), "variant: raft.election_max_ms=1200,raft.election_min_ms=300") {
		t.Errorf("all.txt lacks a variant configuration line:\n%.400s", all)
	}
}

func TestCampaignMetricsTable(t *testing.T) {
	r := dsim(t, nil, "campaign", "raft/initial-election", "--seeds", "3", "--metrics")
	if r.code != 0 || !strings.Contains(r.stdout, "first_leader_ns") || !strings.Contains(r.stdout, "p99") {
		t.Fatalf("exit %d, stdout:\n%s", r.code, r.stdout)
	}
	if plain := dsim(t, nil, "campaign", "raft/initial-election", "--seeds", "3"); strings.Contains(plain.stdout, "first_leader_ns") {
		t.Fatalf("metrics printed without --metrics:\n%s", plain.stdout)
	}
}
