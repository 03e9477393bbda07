package campaign

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smilingraft/dsim/replay"
)

// probeBytes is what PrepareOut writes to see that the directory takes a
// file: about one failure file (12 KB with its trace tail).
const probeBytes = 16 << 10

// TempMinAge is how old a leftover temp file must be before PrepareOut
// touches it: a younger one may belong to a campaign writing into the same
// directory right now.
const TempMinAge = time.Minute

// maxFailureFileBytes bounds a leftover temp file PrepareOut reads back.
const maxFailureFileBytes = 64 << 20

// OutReport is what PrepareOut found in the output directory.
type OutReport struct {
	// Recovered are failure files finished from complete temp files a
	// killed campaign left behind (renamed into place).
	Recovered []string
	// Partial are temp files that could not be finished, each with why
	// ("PATH: reason"); they are left as they are.
	Partial []string
}

// PrepareOut makes sure dir can take failure files before the first seed
// runs: it creates it, then writes, syncs and removes a probe file of about
// one failure file's size, so a path under a regular file, a read-only or
// full file system is an error now rather than a lost failure later. It
// then finishes what a SIGKILL may have left there: hidden temp files of
// replay.File.WriteAs (".tmp-NAME-RANDOM"), older than TempMinAge, that
// hold a complete, valid failure file are renamed to NAME (the only copy
// of that failure); the others are listed in Partial. now is the current
// time (a parameter so tests need not wait).
func PrepareOut(dir string, now time.Time) (OutReport, error) {
	var rep OutReport
	if dir == "" {
		return rep, fmt.Errorf("--out is empty: give a directory for failure files")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return rep, fmt.Errorf("--out %s: %v", dir, unwrapPath(err))
	}
	if err := probe(dir); err != nil {
		return rep, fmt.Errorf("--out %s cannot take failure files: %v", dir, unwrapPath(err))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return rep, fmt.Errorf("--out %s: %v", dir, unwrapPath(err))
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || now.Sub(info.ModTime()) < TempMinAge {
			continue // gone, not a file, or maybe being written right now
		}
		final, why := finishTemp(dir, e.Name())
		if why != "" {
			rep.Partial = append(rep.Partial, path+": "+why)
			continue
		}
		if final != "" {
			rep.Recovered = append(rep.Recovered, final)
		}
	}
	if len(rep.Recovered) > 0 {
		syncDir(dir)
	}
	return rep, nil
}

// probe writes, syncs and removes a file of probeBytes in dir.
func probe(dir string) error {
	f, err := os.CreateTemp(dir, ".dsim-probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(make([]byte, probeBytes)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// finishTemp finishes one leftover temp file: it returns the final path it
// renamed it to, "" with no reason when the temp file was a redundant copy
// of a whole file already in place (removed), or the reason it was left.
func finishTemp(dir, tmpName string) (final, why string) {
	rest := strings.TrimPrefix(tmpName, ".tmp-")
	i := strings.LastIndex(rest, "-")
	if i <= 0 || !strings.HasSuffix(rest[:i], ".json") {
		return "", "partial: not a dsim failure temp file name (.tmp-NAME.json-RANDOM)"
	}
	name := rest[:i]
	tmp := filepath.Join(dir, tmpName)
	b, err := readBounded(tmp, maxFailureFileBytes)
	if err != nil {
		return "", "partial: " + unwrapPath(err).Error()
	}
	f, err := replay.Parse(tmp, b)
	if err != nil {
		return "", "partial failure file, not finished: " + strings.TrimPrefix(err.Error(), replay.ErrBadFile.Error()+" "+tmp+": ")
	}
	final = filepath.Join(dir, name)
	if old, err := replay.Read(final); err == nil {
		if old.Scenario != f.Scenario || old.Variant != f.Variant || old.Seed != f.Seed || old.Failure.Checker != f.Failure.Checker {
			return "", fmt.Sprintf("partial: a different failure already has its name %s", name)
		}
		if len(f.TraceTail) <= len(old.TraceTail) {
			os.Remove(tmp) // the file in place is as complete
			return "", ""
		}
		// The temp file is the rewrite with the trace tail: finish it.
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", "partial: " + unwrapPath(err).Error()
	}
	return final, ""
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
