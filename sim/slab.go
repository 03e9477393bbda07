package sim

// Slab copies small byte strings into shared chunks: one allocation serves
// many copies, for bytes that a node or checker keeps for a long time
// (commands in a log). A copy's capacity is its length, so appending to it
// never writes into a neighbour. A chunk lives while any copy in it does.
// The zero Slab is ready to use.
type Slab struct {
	chunk []byte
}

const (
	slabChunk = 16 << 10 // bytes per chunk
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
		s.chunk = make([]byte, 0, slabChunk)
	}
	n := len(s.chunk)
	s.chunk = append(s.chunk, b...)
	return s.chunk[n:len(s.chunk):len(s.chunk)]
}
