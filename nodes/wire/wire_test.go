package wire

import (
	"bytes"
	"testing"
)

// A record reads back whole; every truncation and any trailing byte is an
// error, never a panic.
func TestRoundTripAndEveryTruncation(t *testing.T) {
	b := AppendString(nil, "key")
	b = AppendBytes(b, []byte{1, 2, 3})
	b = AppendBytes(b, nil)
	read := func(b []byte) (string, []byte, []byte, error) {
		d := NewDecoder(b)
		s, v, e := d.Str(), d.Bytes(), d.Bytes()
		return s, v, e, d.Done()
	}
	s, v, e, err := read(b)
	if err != nil || s != "key" || !bytes.Equal(v, []byte{1, 2, 3}) || e != nil {
		t.Fatalf("read back %q %v %v, err %v", s, v, e, err)
	}
	for n := 0; n < len(b); n++ {
		if _, _, _, err := read(b[:n]); err == nil {
			t.Errorf("truncated to %d of %d bytes: no error", n, len(b))
		}
	}
	if _, _, _, err := read(append(b, 0)); err == nil {
		t.Error("a trailing byte was accepted")
	}
	d := NewDecoder(b)
	v = d.Bytes() // the string's field, copied
	b[1] = 'X'
	if string(v) != "key" {
		t.Error("Bytes aliases the input")
	}
}

// View returns a field's bytes without a copy (they alias the input) and
// sticks on errors like the other reads.
func TestView(t *testing.T) {
	b := AppendString(AppendString(nil, "key"), "v")
	d := NewDecoder(b)
	if v := d.View(); string(v) != "key" || &v[0] != &b[1] {
		t.Fatalf("View = %q, not the input's bytes", v)
	}
	if v := d.View(); string(v) != "v" || d.Done() != nil {
		t.Fatalf("second View = %q, err %v", v, d.Err())
	}
	d = NewDecoder(b[:2])
	if v := d.View(); v != nil || d.Err() == nil {
		t.Fatalf("truncated View = %q, err %v", v, d.Err())
	}
}
