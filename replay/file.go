// Package replay holds dsim's failure files and what is done with them:
// writing them atomically the moment a failure is found, reading them back
// with strict validation, replaying them exactly (same failure, same event,
// same trace hash, or a precise account of what differs), rendering the
// timeline around a failure (text and self-contained HTML), shrinking them by
// delta debugging, and finding the first event at which two runs of one seed
// diverge (the determinism self-check).
//
// It may import sim and scenarios (and the standard library).
package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/smilingraft/dsim/scenarios"
	"github.com/smilingraft/dsim/sim"
)

// FormatVersion is the version of the failure file format this build writes
// and the newest it reads.
const FormatVersion = 1

// Version is dsim's version, recorded in every failure file.
const Version = "0.1.0-dev"

// File is a failure file: everything needed to reproduce one failing run.
// The plan is explicit, so a replay does not depend on the plan generator of
// the build that found it.
type File struct {
	FormatVersion int    `json:"format_version"`
	DsimVersion   string `json:"dsim_version"`
	Scenario      string `json:"scenario"`
	Variant       string `json:"variant"`
	Seed          uint64 `json:"seed"`
	// Duration, when set, overrides the scenario's fault phase length (a
	// shrunk file may have a shorter one).
	Duration sim.Duration `json:"duration_ns,omitempty"`
	// Faults are the fault options the run used (nil: none or scenario's).
	Faults *sim.Faults `json:"faults"`
	// Plan is the explicit fault plan; nil Plan with PlanGenerated means the
	// plan is regenerated from the seed (a hang caught before it finished).
	Plan          sim.Plan     `json:"plan"`
	PlanGenerated bool         `json:"plan_generated,omitempty"`
	Failure       *sim.Failure `json:"failure"`
	TraceHash     string       `json:"trace_hash"`
	Events        uint64       `json:"events"`
	VTime         sim.Time     `json:"vtime_ns"`
	// TraceTail is the end of the failing run's trace, up to the failure:
	// replay compares against it to name the first differing event.
	TraceTail []sim.TraceEvent `json:"trace_tail,omitempty"`
	// Repro is the command that replays this file.
	Repro string `json:"repro"`
	// RunRepro reruns (scenario, variant, seed) from scratch.
	RunRepro string `json:"run_repro"`
	// FoundBy says what found it (campaign, shrink, rapid, fuzz).
	FoundBy string `json:"found_by,omitempty"`
	// ShrunkFrom summarises the file this one was shrunk from.
	ShrunkFrom *Size `json:"shrunk_from,omitempty"`
}

// Size is how big a failing case is: what shrinking reduces.
type Size struct {
	Actions  int          `json:"actions"`
	Events   uint64       `json:"events"`
	Duration sim.Duration `json:"duration_ns"`
	Variant  string       `json:"variant"`
}

// Size reports the file's size.
func (f *File) Size() Size {
	d := f.Duration
	if d == 0 {
		if s, err := scenarios.Lookup(f.Scenario); err == nil {
			d = s.Duration
		}
	}
	return Size{Actions: len(f.Plan), Events: f.Events, Duration: d, Variant: f.Variant}
}

// FromResult builds a failure file from a failed run.
func FromResult(res *scenarios.Result, foundBy string) *File {
	f := &File{
		FormatVersion: FormatVersion,
		DsimVersion:   Version,
		Scenario:      res.Scenario,
		Variant:       res.Variant,
		Seed:          res.Seed,
		Faults:        res.Faults,
		Plan:          res.Plan,
		Failure:       res.Failure,
		TraceHash:     res.TraceHash,
		Events:        res.Events,
		VTime:         res.VTime,
		RunRepro:      res.Repro,
		FoundBy:       foundBy,
	}
	if f.Plan == nil {
		f.Plan = sim.Plan{}
	}
	return f
}

// Name is the file's canonical base name: scenario, seed and checker, so
// that one campaign's files sort by scenario and seed.
func (f *File) Name() string {
	checker := "fail"
	if f.Failure != nil {
		checker = f.Failure.Checker
	}
	s := strings.NewReplacer("/", "_", " ", "_").Replace(f.Scenario)
	return fmt.Sprintf("%s-seed%d-%s.json", s, f.Seed, checker)
}

// Config returns the scenarios.Config that replays the file's run, and the
// scenario to run (a copy with the file's fault phase when it overrides it).
func (f *File) Config() (*scenarios.Scenario, scenarios.Variant, scenarios.Config, error) {
	s, err := scenarios.Lookup(f.Scenario)
	if err != nil {
		return nil, nil, scenarios.Config{}, err
	}
	v, err := scenarios.ParseVariant(f.Variant)
	if err != nil {
		return nil, nil, scenarios.Config{}, err
	}
	if err := s.Validate(v); err != nil {
		return nil, nil, scenarios.Config{}, err
	}
	if f.Duration > 0 && f.Duration != s.Duration {
		c := *s
		c.Duration = f.Duration
		s = &c
	}
	cfg := scenarios.Config{Faults: f.Faults}
	if !f.PlanGenerated {
		p := append(sim.Plan{}, f.Plan...)
		cfg.Plan = &p
	}
	return s, v, cfg, nil
}

// Write writes the file into dir atomically (temp file, fsync, rename, fsync
// of the directory) and returns its path. A reader never sees half a file.
func (f *File) Write(dir string) (string, error) {
	if f.Repro == "" {
		f.Repro = "dsim replay " + filepath.Join(dir, f.Name())
	}
	return f.WriteAs(filepath.Join(dir, f.Name()))
}

// WriteAs writes the file atomically at path.
func (f *File) WriteAs(path string) (string, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("failure file: %w", err)
	}
	if f.Repro == "" {
		f.Repro = "dsim replay " + path
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", fmt.Errorf("failure file: %w", err)
	}
	b = append(b, '\n')
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return "", fmt.Errorf("failure file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return "", fmt.Errorf("failure file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("failure file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("failure file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("failure file %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return path, nil
}

// ErrBadFile marks a failure file that cannot be read: missing, not JSON,
// truncated, from a newer dsim, or naming an unknown scenario.
var ErrBadFile = errors.New("bad failure file")

func bad(path, format string, args ...any) error {
	return fmt.Errorf("%w %s: %s", ErrBadFile, path, fmt.Sprintf(format, args...))
}

// Read reads and validates a failure file. Every error wraps ErrBadFile and
// is one line.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, bad(path, "%v", err)
	}
	return Parse(path, b)
}

// Parse decodes and validates failure file bytes; path names it in errors.
func Parse(path string, b []byte) (*File, error) {
	trimmed := bytes.TrimSpace(b)
	switch {
	case len(trimmed) == 0:
		return nil, bad(path, "empty file")
	case !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0:
		return nil, bad(path, "binary data, not a JSON failure file")
	case trimmed[0] != '{':
		return nil, bad(path, "not a JSON object")
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, bad(path, "truncated JSON")
		}
		return nil, bad(path, "invalid JSON: %v", err)
	}
	switch {
	case f.FormatVersion <= 0:
		return nil, bad(path, "no format_version (not a dsim failure file)")
	case f.FormatVersion > FormatVersion:
		return nil, bad(path, "format_version %d is newer than this dsim reads (%d); upgrade dsim", f.FormatVersion, FormatVersion)
	case f.Scenario == "":
		return nil, bad(path, "no scenario")
	case f.Failure == nil:
		return nil, bad(path, "no failure recorded")
	}
	s, err := scenarios.Lookup(f.Scenario)
	if err != nil {
		return nil, bad(path, "%v", err)
	}
	v, err := scenarios.ParseVariant(f.Variant)
	if err != nil {
		return nil, bad(path, "%v", err)
	}
	if err := s.Validate(v); err != nil {
		return nil, bad(path, "%v", err)
	}
	if f.Duration < 0 {
		return nil, bad(path, "negative duration_ns")
	}
	if f.Plan != nil {
		// Targets are only known to the scenario's setup; Run validates
		// node ranges. Kinds and times are checked here.
		if err := f.Plan.Validate(1 << 20); err != nil {
			return nil, bad(path, "%v", err)
		}
	}
	return &f, nil
}
