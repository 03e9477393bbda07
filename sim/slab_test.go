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

func TestGrowDoublesAndKeepsContents(t *testing.T) {
	s := make([]int, 3, 40)
	copy(s, []int{1, 2, 3})
	s[:40][39] = 99 // past the length: must not come along
	if g := Grow(s, 37); &g[0] != &s[0] {
		t.Fatal("Grow reallocated with room to spare")
	}
	g := Grow(s, 38)
	if len(g) != 3 || cap(g) < 80 || g[0] != 1 || g[2] != 3 {
		t.Fatalf("Grow(len 3 cap 40, 38) = len %d cap %d %v; want len 3, cap >= 80", len(g), cap(g), g)
	}
	for i, v := range g[:cap(g)][3:] {
		if v != 0 {
			t.Fatalf("room past the length not zero at %d: %d", 3+i, v)
		}
	}
	if a := testing.AllocsPerRun(10, func() { _ = Grow(s, 38) }); a != 1 {
		t.Fatalf("Grow allocated %v times, want 1", a)
	}
}

func TestFreeListIsAStack(t *testing.T) {
	var f FreeList[Request]
	if f.Get() != nil {
		t.Fatal("an empty free list gave an object")
	}
	a, b := &Request{ID: 1}, &Request{ID: 2}
	f.Put(a)
	f.Put(b)
	if f.Get() != b || f.Get() != a || f.Get() != nil {
		t.Fatal("not last in, first out")
	}
}
