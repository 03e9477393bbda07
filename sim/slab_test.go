package sim

import (
	"bytes"
	"testing"
)

func TestSlabCopiesAreIndependent(t *testing.T) {
	var s Slab
	src := []byte("abc")
	a := s.Copy(src)
	copy(src, "XYZ")
	b := s.Copy([]byte("def"))
	_ = append(a, '!') // must not overwrite b
	big := s.Copy(bytes.Repeat([]byte{1}, 5000))
	if string(a) != "abc" || string(b) != "def" || len(big) != 5000 || s.Copy(nil) != nil {
		t.Fatalf("a=%q b=%q len(big)=%d", a, b, len(big))
	}
	if e := s.Copy([]byte{}); e == nil || len(e) != 0 {
		t.Fatalf("empty copy = %#v, want empty non-nil", e)
	}
}

func TestBatchGivesDistinctZeroValues(t *testing.T) {
	var b Batch[Request]
	seen := map[*Request]bool{}
	for i := 0; i < 3*batchN; i++ {
		r := b.New()
		if seen[r] || r.ID != 0 || r.Body != nil {
			t.Fatalf("New #%d returned %p %+v (seen before: %v)", i, r, r, seen[r])
		}
		seen[r] = true
		r.ID = uint64(i + 1)
	}
}
