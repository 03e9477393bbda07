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
