package sim

import "math/bits"

// Rand is dsim's own PRNG: xoshiro256** seeded through splitmix64. It is
// owned (not math/rand) so that its output never changes across Go releases,
// and it is small and allocation-free. A Rand is not safe for concurrent use;
// nothing in a world is concurrent.
type Rand struct {
	s0, s1, s2, s3 uint64
}

// NewRand returns a generator seeded from seed.
func NewRand(seed uint64) *Rand {
	r := &Rand{}
	r.Seed(seed)
	return r
}

// Seed resets r to the state derived from seed.
func (r *Rand) Seed(seed uint64) {
	x := seed
	r.s0 = splitmix(&x)
	r.s1 = splitmix(&x)
	r.s2 = splitmix(&x)
	r.s3 = splitmix(&x)
}

func splitmix(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// StreamSeed derives the seed of an independent stream named label from a
// world seed. Streams are keyed by name, so adding a client stream never
// reshuffles the network's coin flips.
func StreamSeed(seed uint64, label string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(label); i++ {
		h ^= uint64(label[i])
		h *= 1099511628211
	}
	x := seed ^ bits.RotateLeft64(h, 17)
	return splitmix(&x)
}

// Uint64 returns 64 uniformly random bits.
func (r *Rand) Uint64() uint64 {
	result := bits.RotateLeft64(r.s1*5, 7) * 9
	t := r.s1 << 17
	r.s2 ^= r.s0
	r.s3 ^= r.s1
	r.s1 ^= r.s2
	r.s0 ^= r.s3
	r.s2 ^= t
	r.s3 = bits.RotateLeft64(r.s3, 45)
	return result
}

// Uint64n returns a uniform value in [0, n). It panics if n == 0.
func (r *Rand) Uint64n(n uint64) uint64 {
	if n == 0 {
		panic("sim: Uint64n(0)")
	}
	// Lemire's nearly-divisionless method: unbiased.
	hi, lo := bits.Mul64(r.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.Uint64(), n)
		}
	}
	return hi
}

// Intn returns a uniform int in [0, n). It panics if n <= 0.
func (r *Rand) Intn(n int) int {
	if n <= 0 {
		panic("sim: Intn(n <= 0)")
	}
	return int(r.Uint64n(uint64(n)))
}

// Between returns a uniform duration in [lo, hi]. If hi <= lo it returns lo.
func (r *Rand) Between(lo, hi Duration) Duration {
	if hi <= lo {
		return lo
	}
	return lo + Duration(r.Uint64n(uint64(hi-lo)+1))
}

// Chance reports true with probability p.
func (r *Rand) Chance(p Ratio) bool {
	if p.Zero() {
		return false
	}
	if p.Num >= p.Den {
		return true
	}
	return r.Uint64n(uint64(p.Den)) < uint64(p.Num)
}

// Perm returns a random permutation of [0, n).
func (r *Rand) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	r.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

// Shuffle permutes n elements with swap (Fisher-Yates).
func (r *Rand) Shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		swap(i, r.Intn(i+1))
	}
}
