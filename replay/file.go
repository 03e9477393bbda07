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
	"hash/fnv"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
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

// Name is the file's canonical base name: scenario, seed, checker and, when
// the run had a variant, a short stable hash of it (the FNV-1a of its
// canonical form), so that files sort by scenario and seed and two
// campaigns with different variants into one directory never overwrite
// each other's files. Characters other than letters, digits, '.', '_' and
// '-' become '_', so a hostile checker name cannot leave the directory.
func (f *File) Name() string {
	checker := "fail"
	if f.Failure != nil && f.Failure.Checker != "" {
		checker = f.Failure.Checker
	}
	name := fmt.Sprintf("%s-seed%d-%s", safeName(f.Scenario), f.Seed, safeName(checker))
	if f.Variant != "" {
		canon := f.Variant
		if v, err := scenarios.ParseVariant(f.Variant); err == nil {
			canon = v.String()
		}
		h := fnv.New32a()
		h.Write([]byte(canon))
		name += fmt.Sprintf("-v%08x", h.Sum32())
	}
	return name + ".json"
}

// safeName keeps letters, digits, '.', '_' and '-' and turns anything else
// into '_'; a name of dots only becomes '_'.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if strings.Trim(string(b), ".") == "" {
		return "_"
	}
	return string(b)
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

// CheckTarget returns an error unless path is absent or a regular file:
// WriteAs renames over whatever is there, and a fifo, a device or a
// symbolic link must never be replaced by a failure file.
func CheckTarget(path string) error {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("failure file %s: %w", path, unwrapPath(err))
	case !st.Mode().IsRegular():
		return fmt.Errorf("refusing to replace %s: not a regular file (%s)", path, describeMode(st.Mode()))
	}
	return nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// FileMode is the mode failure files are created with, before the umask:
// the usual 0644, so that artifact uploaders running as another user can
// read them.
const FileMode = 0o644

// WriteAs writes the file atomically at path (temp file in the same
// directory, fsync, rename, fsync of the directory). The file is created
// FileMode minus the umask. It refuses to replace anything but a regular
// file (see CheckTarget).
func (f *File) WriteAs(path string) (string, error) {
	dir := filepath.Dir(path)
	if err := CheckTarget(path); err != nil {
		return "", err
	}
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
	tmp, err := createTemp(dir, ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return "", fmt.Errorf("failure file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return "", fmt.Errorf("failure file %s: %w", path, unwrapPath(err))
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("failure file %s: %w", path, unwrapPath(err))
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("failure file %s: %w", path, unwrapPath(err))
	}
	if err := CheckTarget(path); err != nil { // it may have appeared meanwhile
		return "", err
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

// createTemp creates a new file prefix+RANDOM in dir with mode FileMode
// (the kernel applies the umask; os.CreateTemp would make it 0600).
func createTemp(dir, prefix string) (*os.File, error) {
	for try := 0; ; try++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
		if err == nil || !errors.Is(err, fs.ErrExist) || try >= 100 {
			return f, err
		}
	}
}

// ErrBadFile marks a failure file that cannot be read: missing, not JSON,
// truncated, from a newer dsim, or naming an unknown scenario.
var ErrBadFile = errors.New("bad failure file")

func bad(path, format string, args ...any) error {
	return fmt.Errorf("%w %s: %s", ErrBadFile, path, fmt.Sprintf(format, args...))
}

// Bounds on what a failure file may hold. Real files are a few to a few
// hundred kilobytes: a plan of at most a few thousand actions and a trace
// tail of some hundred events. The bounds keep a hostile or corrupt file
// (or /dev/zero) from taking more than a few hundred megabytes.
const (
	// MaxFileBytes bounds the bytes Read reads.
	MaxFileBytes = 16 << 20
	// MaxPlanActions bounds a plan's length (checked while decoding).
	MaxPlanActions = 100_000
	// MaxTraceTail bounds the stored trace tail (checked while decoding).
	MaxTraceTail = 100_000
	// MaxMomentOps bounds the operations a failure's moment names.
	MaxMomentOps = 10_000
)

// Read reads and validates a failure file, reading at most MaxFileBytes.
// Every error wraps ErrBadFile and is one line.
func Read(path string) (*File, error) {
	b, err := ReadBounded(path, MaxFileBytes)
	if err != nil {
		return nil, bad(path, "%v", err)
	}
	return Parse(path, b)
}

// ReadBounded reads path, refusing a directory and anything longer than
// max bytes (it reads at most max+1, so an endless device costs nothing).
func ReadBounded(path string, max int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer fh.Close()
	if st, err := fh.Stat(); err == nil {
		switch {
		case st.IsDir():
			return nil, errors.New("is a directory")
		case st.Mode().IsRegular() && st.Size() > max:
			return nil, fmt.Errorf("larger than %d bytes (not a failure file?)", max)
		}
	}
	b, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, unwrapPath(err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes (not a failure file?)", max)
	}
	return b, nil
}

// tooLong is the error of a bounded list that has more elements than its
// bound.
type tooLong struct {
	what string
	max  int
}

func (e *tooLong) Error() string { return fmt.Sprintf("%s has more than %d entries", e.what, e.max) }

// boundedList decodes a JSON array into *items, refusing it as soon as it
// has more than max elements: memory stays proportional to the bound, not
// to the file (an action decodes to ~40 times the bytes of "{},").
type boundedList[T any] struct {
	items *[]T
	max   int
	what  string
}

// UnmarshalJSON decodes the array element by element.
func (l *boundedList[T]) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("%s: want a JSON array", l.what)
	}
	out := make([]T, 0)
	for dec.More() {
		if len(out) >= l.max {
			return &tooLong{l.what, l.max}
		}
		var x T
		if err := dec.Decode(&x); err != nil {
			return fmt.Errorf("%s entry %d: %v", l.what, len(out), err)
		}
		out = append(out, x)
	}
	*l.items = out
	return nil
}

// Parse decodes and validates failure file bytes; path names it in errors.
// Everything is checked against the scenario before anything runs: the
// variant's keys and ranges, the fault phase, the fault options, and every
// plan action's kind, time, nodes and values (node indexes against the
// servers the scenario sets up for that variant). Every error wraps
// ErrBadFile and is one line.
func Parse(path string, b []byte) (*File, error) {
	trimmed := bytes.TrimSpace(b)
	switch {
	case len(b) > MaxFileBytes:
		return nil, bad(path, "larger than %d bytes (not a failure file?)", MaxFileBytes)
	case len(trimmed) == 0:
		return nil, bad(path, "empty file")
	case !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0:
		return nil, bad(path, "binary data, not a JSON failure file")
	case trimmed[0] != '{':
		return nil, bad(path, "not a JSON object")
	}
	type plain File // no methods: decodes field by field
	var f File
	aux := struct {
		*plain
		Plan      *boundedList[sim.Action]     `json:"plan"`
		TraceTail *boundedList[sim.TraceEvent] `json:"trace_tail"`
	}{plain: (*plain)(&f)}
	aux.Plan = &boundedList[sim.Action]{items: (*[]sim.Action)(&f.Plan), max: MaxPlanActions, what: "plan"}
	aux.TraceTail = &boundedList[sim.TraceEvent]{items: &f.TraceTail, max: MaxTraceTail, what: "trace_tail"}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&aux); err != nil {
		var tl *tooLong
		switch {
		case errors.As(err, &tl):
			return nil, bad(path, "%v", tl)
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
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
	if err := f.validate(s, v); err != nil {
		return nil, bad(path, "%v", err)
	}
	return &f, nil
}

// validate checks the file's run against its scenario s and variant v.
func (f *File) validate(s *scenarios.Scenario, v scenarios.Variant) error {
	switch {
	case f.Duration < 0 || f.Duration > s.Duration:
		return fmt.Errorf("duration_ns %d out of range 0..%d (%s's fault phase)", f.Duration, s.Duration, s.Name)
	case f.VTime < 0:
		return fmt.Errorf("negative vtime_ns %d", f.VTime)
	case f.Failure.VTime < 0:
		return fmt.Errorf("negative failure vtime_ns %d", f.Failure.VTime)
	}
	if m := f.Failure.Moment; m != nil {
		switch {
		case m.VTime < 0:
			return fmt.Errorf("negative failure moment vtime_ns %d", m.VTime)
		case len(m.Ops) > MaxMomentOps:
			return fmt.Errorf("failure moment has %d ops, more than %d", len(m.Ops), MaxMomentOps)
		}
	}
	if f.Faults != nil {
		if err := f.Faults.Validate(); err != nil {
			return err
		}
	}
	if len(f.Plan) == 0 {
		return nil
	}
	phase := s.Duration
	if f.Duration > 0 {
		phase = f.Duration
	}
	targets, ok := s.FaultTargets(v, f.Seed)
	if !ok {
		targets = math.MaxInt // setup fails: the run reports it
	}
	if targets == 0 {
		return fmt.Errorf("plan has %d actions but %s has no fault targets", len(f.Plan), s.Name)
	}
	if err := f.Plan.Validate(targets); err != nil {
		return err
	}
	for i, a := range f.Plan {
		if a.At > phase {
			return fmt.Errorf("plan action %d (%s) at_ns %d is after the fault phase (%v)", i, a.Kind, a.At, phase)
		}
	}
	return nil
}
