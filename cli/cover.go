package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/smilingraft/dsim/campaign"
	"github.com/smilingraft/dsim/cover"
)

// Code coverage of the systems under test (package cover): campaign
// --cover DIR, campaign merge --cover DIR, and dsim cover DIR.

func init() {
	register(command{"cover", "print the blocks no seed of a campaign --cover run executed, with their source", cmdCover})
}

// startCover checks that the binary has coverage counters and that dir
// takes files, before the first seed: nil without --cover. A --workers
// above 1 is said to be ignored (campaign.Options.Cover runs one seed at a
// time).
func startCover(dir string, workers int) (*cover.Recorder, error) {
	if dir == "" {
		return nil, nil
	}
	if err := cover.Check(); err != nil {
		return nil, usagef("--cover needs a binary built with coverage counters: %v", err)
	}
	if err := checkOutDir("cover", dir); err != nil {
		return nil, err
	}
	rec, err := cover.NewRecorder()
	if err != nil {
		return nil, usagef("--cover: %v", err)
	}
	if workers > 1 {
		fmt.Fprintf(stderr, "dsim campaign: --cover runs one seed at a time (coverage counters are process-wide): --workers %d ignored; shard over processes instead\n", workers)
	}
	return rec, nil
}

// finishCover writes a campaign's coverage into dir and prints the
// per-package figures (on stderr when stdout holds JSON).
func finishCover(dir string, rec *cover.Recorder, sum *campaign.Summary, stdout io.Writer, asJSON bool) error {
	for _, r := range sum.Seeds {
		rec.AddPart(cover.Part{Scenario: r.Scenario, Variant: r.Variant, From: r.From, Seeds: r.Seeds, Shard: r.Shard.String(), Runs: r.Runs})
	}
	return writeCover(dir, rec.Data(), stdout, asJSON)
}

func writeCover(dir string, d *cover.Data, stdout io.Writer, asJSON bool) error {
	if err := cover.WriteDir(dir, d); err != nil {
		return fmt.Errorf("coverage: %v", err) // replay.WriteAtomic says which file was not written
	}
	w := stdout
	if asJSON {
		w = stderr
	}
	fmt.Fprintf(w, "coverage of %d runs in %s (report.txt, attribution.txt; dsim cover %s --pkg PKG; go tool cover -html=%s):\n",
		d.Runs(), dir, dir, filepath.Join(dir, "coverage.out"))
	return d.WriteStats(w, nil)
}

// splitCoverPaths separates merge's arguments into coverage directories
// or files (cover.IsDataPath) and summary paths; a coverage directory
// holding summaries is both.
func splitCoverPaths(pos []string) (sums, covs []string) {
	for _, p := range pos {
		if !cover.IsDataPath(p) {
			sums = append(sums, p)
			continue
		}
		covs = append(covs, p)
		if m, _ := filepath.Glob(filepath.Join(p, "*.json")); len(m) > 0 {
			sums = append(sums, p)
		}
	}
	return sums, covs
}

// mergeCover merges the shards' coverage like their summaries: every
// shard's data, no shard twice, as many runs as the merged summary.
func mergeCover(covs []string, out string, sum *campaign.Summary, stdout io.Writer, asJSON bool) error {
	if len(covs) == 0 {
		if out != "" {
			return usagef("merge --cover %s: no coverage to merge: give the shards' --cover directories beside their summaries", out)
		}
		return nil
	}
	var parts []*cover.Data
	for _, p := range covs {
		d, err := cover.ReadData(p)
		if err != nil {
			return usagef("merge: %v", err)
		}
		parts = append(parts, d)
	}
	d, err := cover.Merge(parts)
	if err != nil {
		return usagef("merge: %v", err)
	}
	if d.Runs() != sum.Runs {
		return usagef("merge: the coverage holds %d runs, the summaries %d: give every shard's --cover directory with its summary", d.Runs(), sum.Runs)
	}
	if out == "" {
		w := stdout
		if asJSON {
			w = stderr
		}
		fmt.Fprintf(w, "coverage of %d runs (merge --cover DIR writes the merged data and report):\n", d.Runs())
		return d.WriteStats(w, nil)
	}
	if err := checkOutDir("cover", out); err != nil {
		return err
	}
	return writeCover(out, d, stdout, asJSON)
}

func cmdCover(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cover", flag.ContinueOnError)
	pkg := fs.String("pkg", "", "packages to print: an import path, a path in the module (nodes/kv) or a last element (kv), with /... for those below (default: all)")
	src := fs.String("src", ".", "where the module's source is (a directory at or below its go.mod)")
	reached := fs.Bool("reached", false, "print the covered blocks with the scenarios that reached them instead")
	perScenario := fs.Bool("scenarios", false, "print per scenario the seeds that reached a block no lower seed did instead")
	html := fs.String("html", "", "also write go tool cover's HTML view of the coverage to this file (needs the go command and the module's source)")
	maxLines := fs.Int("lines", 12, "source lines printed per block at most (0: all)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("cover wants one directory written by campaign --cover (or campaign merge --cover)")
	}
	if *maxLines < 0 {
		return usagef("--lines must be non-negative")
	}
	d, err := cover.ReadData(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	match := cover.MatchPackages(*pkg)
	if len(d.Stats(match)) == 0 {
		return usagef("--pkg %q matches none of the %d instrumented packages", *pkg, len(d.Table.Packages))
	}
	if *html != "" {
		if err := coverHTML(d, *html, *src); err != nil {
			return usagef("--html %s: %v", *html, err)
		}
	}
	if err := d.WriteStats(stdout, match); err != nil {
		return err
	}
	if *reached {
		return d.Attribution(stdout, match, 0)
	}
	if *perScenario {
		return d.WriteSaturation(stdout)
	}
	n, err := d.Uncovered(stdout, match, cover.NewSources(*src), *maxLines)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d blocks never executed\n", n)
	return nil
}

// coverHTML runs go tool cover -html over the data's Go profile, from the
// module's directory so that the go command finds the sources.
func coverHTML(d *cover.Data, out, src string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("no go command on PATH")
	}
	prof, err := os.CreateTemp("", "dsim-cover-*.out")
	if err != nil {
		return err
	}
	defer os.Remove(prof.Name())
	if err := d.Profile(prof); err != nil {
		prof.Close()
		return err
	}
	prof.Close()
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.Command(gobin, "tool", "cover", "-html="+prof.Name(), "-o", abs)
	cmd.Dir = src
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go tool cover: %v: %s", err, campaign.OneLine(string(b), 200))
	}
	return nil
}
