// Command mutants measures dsim's mutation score: for every realistic
// single-line bug kept as a patch in testdata/mutants, it applies the patch
// to a temporary copy of the repository (never to the tree it runs from),
// builds dsim there, runs the default campaign of the mutant's system with
// one worker, a fixed seed budget and a CPU-time cap, and prints a markdown
// table: caught or not, by which checker, the seeds and CPU-seconds to the
// first failure, and the shrunk plan's size.
//
//	go run ./scripts/mutants                      # every mutant
//	go run ./scripts/mutants -run 'raft-vote-*'   # some of them (comma-separated globs)
//
// A patch file starts with a header, then `git diff` output:
//
//	Description: one line saying what the bug is
//	Campaign: raft/*            (the dsim campaign patterns, space-separated)
//
// Everything but the CPU-seconds column is deterministic: one worker runs
// the seeds in order (seed 1 of every scenario, then seed 2, ...), so the
// first failure, its checker and its shrunk plan are the same on every
// machine. A caught failure is re-run on the unmutated build; if it fails
// there too the mutant is reported as not caught ("baseline fails").
//
// It is a tool, not part of dsim: it may import anything in the standard
// library, and runs git and go.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smilingraft/dsim/scripts/internal/proc"
)

// Mutant is one patch file of testdata/mutants.
type Mutant struct {
	// Name is the file name without .patch.
	Name string
	// File is the patch's path.
	File string
	// Description is the header's one-line description of the bug.
	Description string
	// Campaign lists the dsim campaign patterns the mutant runs against.
	Campaign []string
}

// ParseMutant reads a patch file's header (Description and Campaign lines
// before the first "diff --git").
func ParseMutant(file string) (Mutant, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return Mutant{}, err
	}
	m := Mutant{Name: strings.TrimSuffix(filepath.Base(file), ".patch"), File: file}
	sc := bufio.NewScanner(bytes.NewReader(b))
	diff := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "diff --git ") {
			diff = true
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			switch strings.TrimSpace(k) {
			case "Description":
				m.Description = strings.TrimSpace(v)
			case "Campaign":
				m.Campaign = strings.Fields(v)
			}
		}
	}
	switch {
	case !diff:
		return m, fmt.Errorf("%s: no 'diff --git' line", file)
	case m.Description == "":
		return m, fmt.Errorf("%s: no 'Description:' header line", file)
	case len(m.Campaign) == 0:
		return m, fmt.Errorf("%s: no 'Campaign:' header line", file)
	}
	return m, nil
}

// ChangedLines counts the lines a patch removes and adds.
func ChangedLines(patch []byte) (removed, added int) {
	in := false
	for _, line := range strings.Split(string(patch), "\n") {
		switch {
		case strings.HasPrefix(line, "diff --git "):
			in = false
		case strings.HasPrefix(line, "@@"):
			in = true
		case !in:
		case strings.HasPrefix(line, "-"):
			removed++
		case strings.HasPrefix(line, "+"):
			added++
		}
	}
	return removed, added
}

// LoadMutants parses every *.patch in dir, sorted by name.
func LoadMutants(dir string) ([]Mutant, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.patch"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Mutant
	for _, f := range files {
		m, err := ParseMutant(f)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no *.patch files in %s", dir)
	}
	return out, nil
}

// Row is one mutant's result.
type Row struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Campaign    []string `json:"campaign"`
	Caught      bool     `json:"caught"`
	// Note says why a mutant is not caught (seed budget, CPU cap, build
	// failure, baseline fails) or anything else worth knowing.
	Note     string `json:"note,omitempty"`
	Scenario string `json:"scenario,omitempty"`
	Checker  string `json:"checker,omitempty"`
	// Seed is the first failing seed; with seeds from 1 it is the number of
	// seeds (of every scenario of the campaign) run to the first failure.
	Seed uint64 `json:"seed,omitempty"`
	// Runs is how many runs the campaign made.
	Runs uint64 `json:"runs"`
	// CPUSeconds is the campaign process's user+system CPU time.
	CPUSeconds float64 `json:"cpu_seconds"`
	// ActionsBefore and ActionsAfter are the failing plan's actions before
	// and after `dsim shrink` (-1: not shrunk).
	ActionsBefore int    `json:"actions_before"`
	ActionsAfter  int    `json:"actions_after"`
	Message       string `json:"message,omitempty"`
}

type options struct {
	repo, dir, rev, run, jsonOut string
	seeds, from                  uint64
	guided                       bool
	extra                        string
	cpu, shrinkTimeout           time.Duration
	keep                         bool
}

func main() {
	var o options
	flag.StringVar(&o.repo, "repo", ".", "repository root (its git revision -rev is copied)")
	flag.StringVar(&o.dir, "dir", "testdata/mutants", "directory of mutant patches, relative to -repo")
	flag.StringVar(&o.rev, "rev", "HEAD", "git revision the mutants are applied to (a copy of it)")
	flag.StringVar(&o.run, "run", "", "only these mutants: comma-separated names or globs")
	flag.Uint64Var(&o.seeds, "seeds", 1000, "seed budget per scenario")
	flag.Uint64Var(&o.from, "from", 1, "first seed (with -guided also the search's seed)")
	flag.StringVar(&o.extra, "campaign-args", "", "more dsim campaign flags, space-separated (e.g. '--signal state')")
	flag.BoolVar(&o.guided, "guided", false, "run guided campaigns (dsim campaign --guided); a failure is checked on the unmutated build by replaying its file")
	flag.DurationVar(&o.cpu, "cpu", 60*time.Second, "CPU-time cap per campaign")
	flag.DurationVar(&o.shrinkTimeout, "shrink-timeout", 3*time.Minute, "wall-time cap of one shrink")
	flag.StringVar(&o.jsonOut, "json", "", "also write the rows as JSON to this file")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (copies, binaries, failure files)")
	flag.Parse()
	if flag.NArg() > 0 || o.seeds == 0 || o.cpu <= 0 {
		fmt.Fprintln(os.Stderr, "usage: mutants [-run NAMES] [-seeds N] [-from N] [-guided] [-campaign-args ARGS] [-cpu DUR] [-repo DIR] [-rev REV] [-json FILE] [-keep]")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(2)
	}
}

func run(o options) error {
	all, err := LoadMutants(filepath.Join(o.repo, o.dir))
	if err != nil {
		return err
	}
	ms, err := selectMutants(all, o.run)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "dsim-mutants-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "mutants: working in", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	src := filepath.Join(tmp, "src")
	if err := copyRev(o.repo, o.rev, src); err != nil {
		return err
	}
	base := filepath.Join(tmp, "bin", "dsim-base")
	if out, err := goBuild(src, base); err != nil {
		return fmt.Errorf("building the unmutated tree: %v\n%s", err, out)
	}
	var rows []Row
	start := time.Now()
	for _, m := range ms {
		r := runMutant(o, tmp, src, base, m)
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "mutants: %-32s caught=%-5v %-24s seed=%-4d cpu=%.2fs %s\n",
			r.Name, r.Caught, r.Checker, r.Seed, r.CPUSeconds, r.Note)
	}
	fmt.Fprintf(os.Stderr, "mutants: %d mutants in %s wall\n", len(rows), time.Since(start).Round(time.Second))
	fmt.Print(Table(rows, o))
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(rows, "", "  ")
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// selectMutants keeps the mutants whose name matches one of the
// comma-separated globs (all of them for "").
func selectMutants(all []Mutant, sel string) ([]Mutant, error) {
	if sel == "" {
		return all, nil
	}
	var out []Mutant
	for _, m := range all {
		for _, g := range strings.Split(sel, ",") {
			if ok, err := path.Match(strings.TrimSpace(g), m.Name); err != nil {
				return nil, fmt.Errorf("bad -run pattern %q: %v", g, err)
			} else if ok {
				out = append(out, m)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-run %q matches no mutant", sel)
	}
	return out, nil
}

// copyRev extracts git revision rev of repo into dir (git archive), so the
// copy holds exactly the committed tree and none of anyone's work in progress.
func copyRev(repo, rev, dir string) error {
	cmd := exec.Command("git", "-C", repo, "archive", "--format=tar", rev)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	terr := untar(out, dir)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git archive %s: %v: %s", rev, err, strings.TrimSpace(stderr.String()))
	}
	return terr
}

func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(filepath.Separator)) {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

func goBuild(dir, out string) ([]byte, error) {
	cmd := exec.Command("go", "build", "-o", out, "./cmd/dsim")
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

// gitApply applies (or with reverse, un-applies) a patch to the copy in
// dir. GIT_CEILING_DIRECTORIES keeps git from finding a repository around
// the temporary directory, so it patches dir as plain files.
func gitApply(dir, patch string, reverse bool) error {
	args := []string{"apply"}
	if reverse {
		args = append(args, "-R")
	}
	abs, err := filepath.Abs(patch)
	if err != nil {
		return err
	}
	cmd := exec.Command("git", append(args, abs)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func runMutant(o options, tmp, src, base string, m Mutant) Row {
	r := Row{Name: m.Name, Description: m.Description, Campaign: m.Campaign, ActionsBefore: -1, ActionsAfter: -1}
	bin := filepath.Join(tmp, "bin", m.Name)
	if err := gitApply(src, m.File, false); err != nil {
		r.Note = "patch does not apply: " + err.Error()
		return r
	}
	out, berr := goBuild(src, bin)
	if err := gitApply(src, m.File, true); err != nil {
		// The shared copy is now unusable for the next mutant.
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(2)
	}
	if berr != nil {
		r.Note = "build failed: " + proc.FirstLine(string(out), 160)
		return r
	}
	dir := filepath.Join(tmp, "failures", m.Name)
	sum, cpu, capped, err := campaign(bin, dir, m.Campaign, o)
	r.CPUSeconds = cpu
	if err != nil {
		r.Note = err.Error()
		return r
	}
	r.Runs = sum.Runs
	if len(sum.Failures) == 0 {
		switch {
		case capped:
			r.Note = fmt.Sprintf("not caught within %v CPU (%d runs)", o.cpu, sum.Runs)
		default:
			r.Note = fmt.Sprintf("not caught in %d seeds (%d runs)", o.seeds, sum.Runs)
		}
		return r
	}
	f := sum.Failures[0]
	r.Scenario, r.Checker, r.Seed, r.Message = f.Scenario, f.Checker, f.Seed, proc.FirstLine(f.Message, 160)
	// The same seed on the unmutated build must pass, or the failure is
	// not the mutant's.
	if o.guided {
		// A mutated plan has no run line: its file must pass when replayed.
		if f.File == "" || exec.Command(base, "replay", f.File).Run() != nil {
			r.Note = fmt.Sprintf("baseline fails too (or no file): dsim replay %s", f.File)
			return r
		}
	} else if code := exec.Command(base, "run", f.Scenario, "--seed", strconv.FormatUint(f.Seed, 10)).Run(); code != nil {
		r.Note = fmt.Sprintf("baseline fails too: dsim run %s --seed %d", f.Scenario, f.Seed)
		return r
	}
	r.Caught = true
	if f.File != "" {
		r.ActionsBefore, r.ActionsAfter, r.Note = shrink(bin, f.File, filepath.Join(dir, "shrunk.json"), o.shrinkTimeout)
	}
	return r
}

// summary is the part of `dsim campaign --json` the table needs.
type summary struct {
	Runs     uint64 `json:"runs"`
	Failures []struct {
		Scenario string `json:"scenario"`
		Seed     uint64 `json:"seed"`
		Checker  string `json:"checker"`
		Message  string `json:"message"`
		File     string `json:"file"`
	} `json:"failures"`
}

// campaign runs one mutant's campaign with one worker and a CPU cap: the
// process gets SIGTERM (it then prints the summary so far) once its
// user+system time passes o.cpu.
func campaign(bin, out string, patterns []string, o options) (*summary, float64, bool, error) {
	args := append([]string{"campaign"}, patterns...)
	args = append(args, "--seeds", strconv.FormatUint(o.seeds, 10), "--workers", "1", "--max-failures", "1",
		"--files-per-checker", "1", "--out", out, "--json", "--from", strconv.FormatUint(o.from, 10))
	if o.guided {
		args = append(args, "--guided")
	}
	args = append(args, strings.Fields(o.extra)...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	wasCapped, werr := proc.RunCapped(cmd, o.cpu)
	if cmd.ProcessState == nil {
		return nil, 0, false, werr // it did not start
	}
	cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	code := cmd.ProcessState.ExitCode()
	if code != 0 && code != 1 && !(code == 3 && wasCapped) {
		return nil, cpu, wasCapped, fmt.Errorf("campaign exited %v: %s", werr, proc.FirstLine(stderr.String(), 160))
	}
	var s summary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		return nil, cpu, wasCapped, fmt.Errorf("campaign summary: %v", err)
	}
	return &s, cpu, wasCapped, nil
}

var shrinkRe = regexp.MustCompile(`(?m)^\s*(before|after):\s+actions=(\d+)`)

// shrink runs `dsim shrink` on a failure file and returns the plan's
// actions before and after.
func shrink(bin, file, out string, timeout time.Duration) (before, after int, note string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "shrink", file, "--out", out)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	b, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return -1, -1, fmt.Sprintf("shrink over %v", timeout)
	}
	before, after = -1, -1
	for _, m := range shrinkRe.FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.Atoi(m[2])
		if m[1] == "before" {
			before = n
		} else {
			after = n
		}
	}
	if err != nil || after < 0 {
		return before, after, "shrink: " + proc.FirstLine(string(b), 160)
	}
	return before, after, ""
}

// Table renders rows as a markdown table and a summary line.
func Table(rows []Row, o options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| mutant | campaign | caught | checker (scenario, seed) | seeds to 1st failure | CPU-s to 1st failure | shrunk plan (actions) |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---:|---:|---|\n")
	caught := 0
	var cpus []float64
	total := 0.0
	for _, r := range rows {
		total += r.CPUSeconds
		camp := "`" + strings.Join(r.Campaign, " ") + "`"
		if !r.Caught {
			fmt.Fprintf(&b, "| %s | %s | **no** | %s | | %.1f | |\n", r.Name, camp, r.Note, r.CPUSeconds)
			continue
		}
		caught++
		cpus = append(cpus, r.CPUSeconds)
		sh := ""
		if r.ActionsAfter >= 0 {
			sh = fmt.Sprintf("%d → %d", r.ActionsBefore, r.ActionsAfter)
		}
		if r.Note != "" {
			sh = strings.TrimSpace(sh + " " + r.Note)
		}
		fmt.Fprintf(&b, "| %s | %s | yes | `%s` (%s, %d) | %d | %.2f | %s |\n",
			r.Name, camp, r.Checker, r.Scenario, r.Seed, r.Seed, r.CPUSeconds, sh)
	}
	sort.Float64s(cpus)
	med, max := 0.0, 0.0
	if n := len(cpus); n > 0 {
		med = cpus[n/2]
		if n%2 == 0 {
			med = (cpus[n/2-1] + cpus[n/2]) / 2
		}
		max = cpus[n-1]
	}
	fmt.Fprintf(&b, "\n%d of %d mutants caught (seed budget %d per scenario, CPU cap %v, 1 worker); "+
		"CPU-seconds to first failure of the caught ones: median %.2f, max %.2f; total campaign CPU %.1f s.\n",
		caught, len(rows), o.seeds, o.cpu, med, max, total)
	return b.String()
}
