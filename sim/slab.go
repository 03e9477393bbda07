package sim

// Slab copies small byte strings into shared chunks: one allocation serves
// many copies, for bytes that a node or checker keeps for a long time
// (commands in a log). A copy's capacity is its length, so appending to it
// never writes into a neighbour. A chunk lives while any copy in it does.
// Chunks start small and double, so that a short-lived slab costs little.
// The zero Slab is ready to use.
type Slab struct {
	chunk []byte
}

const (
	slabFirst = 256      // bytes in a slab's first chunk; each next one doubles
	slabChunk = 16 << 10 // up to this
	slabLarge = 1 << 10  // larger copies get their own allocation
)

// Copy returns a copy of b (nil for nil).
func (s *Slab) Copy(b []byte) []byte {
	if b == nil {
		return nil
	}
	if len(b) > cap(s.chunk)-len(s.chunk) {
		if len(b) > slabLarge {
			return append([]byte(nil), b...)
		}
		size := min(max(2*cap(s.chunk), slabFirst), slabChunk)
		for size < len(b) {
			size *= 2
		}
		s.chunk = make([]byte, 0, size)
	}
	n := len(s.chunk)
	s.chunk = append(s.chunk, b...)
	return s.chunk[n:len(s.chunk):len(s.chunk)]
}

// Batch hands out new zeroed values of T allocated several at a time: one
// allocation serves batchN values, for small objects made at a high rate
// and dropped soon after (RPC requests, Raft's AppendEntries). A batch
// lives while any value in it does. The zero Batch is ready to use.
type Batch[T any] struct {
	free []T
}

const batchN = 16

// New returns a pointer to a new zero T.
func (b *Batch[T]) New() *T {
	if len(b.free) == 0 {
		b.free = make([]T, batchN)
	}
	p := &b.free[0]
	b.free = b.free[1:]
	return p
}

// Grow returns s with room for n more elements, doubling its capacity when
// it must grow. append (and slices.Grow) grow a large slice by only about a
// quarter, so a long history, log or file growing one record at a time
// copies about four times as many bytes (each element some 4 times, not 1).
func Grow[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	t := make([]T, len(s), max(2*cap(s), len(s)+n, 16))
	copy(t, s)
	return t
}

// FreeList keeps objects a node is done with, for its next ones: records
// that carry callbacks bound once, which a node would otherwise allocate
// and bind per request. It is a stack; the zero FreeList is empty.
type FreeList[T any] struct {
	free []*T
}

// Get returns the object put last, or nil when there is none.
func (f *FreeList[T]) Get() *T {
	n := len(f.free)
	if n == 0 {
		return nil
	}
	x := f.free[n-1]
	f.free[n-1] = nil
	f.free = f.free[:n-1]
	return x
}

// Put keeps x for a later Get; the caller has cleared what it must not
// keep alive and no longer uses x.
func (f *FreeList[T]) Put(x *T) { f.free = append(f.free, x) }
