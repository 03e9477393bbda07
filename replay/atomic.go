package replay

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// AtomicFile is an output file that appears under its name only when it is
// whole: writes go to a hidden temp file beside it (".tmp-NAME-RANDOM"),
// and Commit syncs it and renames it into place. A write that fails (a full
// disk) or a command that stops before Commit leaves nothing under the name
// and no temp file. Every file dsim writes goes through it or WriteAtomic.
type AtomicFile struct {
	path   string
	f      *os.File
	bw     *bufio.Writer
	err    error // first write error
	direct bool  // a device or a pipe: written in place
}

// CreateOutput is CreateAtomic for an output the user names, which may
// also be a device or a named pipe (/dev/stdout, a fifo a compressor
// reads): those are written as they go (nothing to rename), and Commit
// reports a write error all the same. A directory is refused.
func CreateOutput(path string) (*AtomicFile, error) {
	if lst, err := os.Lstat(path); err == nil && !lst.Mode().IsRegular() {
		st, err := os.Stat(path)
		if err == nil && st.Mode()&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe) != 0 {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
			}
			return &AtomicFile{path: path, f: f, bw: bufio.NewWriterSize(f, 64<<10), direct: true}, nil
		}
	}
	return CreateAtomic(path)
}

// CreateAtomic starts the file at path. It refuses a path that is not
// absent or a regular file (CheckTarget) and a directory that cannot take
// a file, so callers may call it before long work to check the target.
func CreateAtomic(path string) (*AtomicFile, error) {
	if err := CheckTarget(path); err != nil {
		return nil, err
	}
	f, err := createTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	return &AtomicFile{path: path, f: f, bw: bufio.NewWriterSize(f, 64<<10)}, nil
}

// Write buffers p; after the first error it drops everything and returns
// that error again (Commit reports it).
func (a *AtomicFile) Write(p []byte) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	n, err := a.bw.Write(p)
	if err != nil {
		a.err = err
	}
	return n, err
}

// Commit flushes, syncs and closes the temp file and renames it to the
// path (then syncs the directory). On any error the temp file is removed
// and nothing is left under the path.
func (a *AtomicFile) Commit() error {
	err := a.err
	if err == nil {
		err = a.bw.Flush()
	}
	if a.direct {
		if cerr := a.f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s is incomplete: %v", a.path, unwrapPath(err))
		}
		return nil
	}
	if err == nil {
		err = a.f.Sync()
	}
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = CheckTarget(a.path) // it may have appeared meanwhile
	}
	if err == nil {
		err = os.Rename(a.f.Name(), a.path)
	}
	if err != nil {
		os.Remove(a.f.Name())
		var le *os.LinkError
		if errors.As(err, &le) {
			err = le.Err
		}
		return fmt.Errorf("%s not written: %v", a.path, unwrapPath(err))
	}
	if d, err := os.Open(filepath.Dir(a.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Abort drops the temp file: nothing is written under the path.
func (a *AtomicFile) Abort() {
	if a.f.Close() == nil && !a.direct {
		os.Remove(a.f.Name())
	}
}

// WriteAtomic writes path atomically with write (see AtomicFile): on any
// error, write's included, nothing is left under path.
func WriteAtomic(path string, write func(io.Writer) error) error {
	a, err := CreateAtomic(path)
	if err != nil {
		return err
	}
	if err := write(a); err != nil {
		a.Abort()
		if a.err != nil {
			err = a.err
		}
		return fmt.Errorf("%s not written: %v", path, unwrapPath(err))
	}
	return a.Commit()
}
