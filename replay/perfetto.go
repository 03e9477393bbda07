package replay

import (
	"errors"
	"io"
)

// WritePerfetto is not built yet.
func (r *Recording) WritePerfetto(w io.Writer) error { return errors.New("perfetto export: not built yet") }

// WriteShiViz is not built yet.
func (r *Recording) WriteShiViz(w io.Writer) error { return errors.New("shiviz export: not built yet") }
