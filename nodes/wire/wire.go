// Package wire is the small binary encoding the systems under nodes/ share
// for Raft commands, results and snapshots: uvarints and length-prefixed
// fields, appended to a byte slice and read back by a Decoder whose first
// error sticks, so a caller decodes a whole record and checks once. Bad
// input is an error, never a panic: the bytes may come from a torn or
// corrupted disk.
//
// Like every package under nodes/, it may import only sim and the
// deterministic standard library (here encoding/binary and fmt).
package wire

import (
	"encoding/binary"
	"fmt"
)

// AppendBytes appends v with its length in front.
func AppendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// AppendString appends s with its length in front.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Decoder reads what the Append functions wrote. After the first error every
// read returns a zero value and Err reports that error.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder reads b (not copied; Bytes copies what it returns).
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err returns the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Len returns the bytes left to read.
func (d *Decoder) Len() int { return len(d.b) }

// Fail records err as the decoder's error unless one is already recorded,
// so callers can add their own checks (counts, order) to the sticky error.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Uvarint reads one uvarint.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// field reads a length-prefixed field without copying it.
func (d *Decoder) field() []byte {
	n := d.Uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("field of %d bytes, %d left", n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// Bytes reads a length-prefixed field into a fresh slice (an empty field
// reads as nil).
func (d *Decoder) Bytes() []byte {
	v := d.field()
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

// View reads a length-prefixed field without copying it: the slice aliases
// the decoder's input, so it is for a caller that only compares or looks
// up the bytes (m[string(v)] does not allocate), or copies them itself,
// before the input changes.
func (d *Decoder) View() []byte { return d.field() }

// Str reads a length-prefixed field as a string. (Not String: a Decoder is
// no fmt.Stringer, printing one must not consume it.)
func (d *Decoder) Str() string { return string(d.field()) }

// Done returns the first error, or an error if bytes are left over: a
// record must be read whole.
func (d *Decoder) Done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return d.err
}
