package etcdsim

import (
	crand "crypto/rand"
	"io"
	"sync"

	"github.com/smilingraft/dsim/sim"
)

// etcd raft v3.6 computes every randomized election timeout as
//
//	r.electionTimeout + globalRand.Intn(r.electionTimeout)
//
// where globalRand is an unexported package-level *lockedRand whose Intn
// calls crypto/rand.Int(crypto/rand.Reader, n). No raft.Config field reaches
// it, so the only hook is the process-wide variable crypto/rand.Reader
// (read at each call, not captured at start-up).
//
// entropy serializes every call into any RawNode in the process and, for
// the duration of the call, points crypto/rand.Reader at the calling node's
// own stream. That is deterministic because:
//   - etcd raft reads randomness only inside calls the host makes (Step,
//     Tick, Propose, Ready, Advance, NewRawNode); it has no goroutines;
//   - while a call runs, the mutex keeps every other RawNode in the process
//     (other worlds of a parallel campaign) out, so all the bytes it reads
//     come from the calling node's stream, whose state depends only on that
//     node's own history;
//   - the stream is the node's sim.Rand (env.Rand()), which continues across
//     restarts like every other per-node stream.
//
// What this does not cover: code outside etcd raft that reads
// crypto/rand.Reader from another goroutine while a RawNode call is in
// flight would read the node's stream (and race on the variable). A dsim
// campaign process has no such code; a process that mixes dsim worlds with
// real cryptography should not host etcd raft this way.
var entropy sync.Mutex

// streamReader feeds crypto/rand.Int from a node's PRNG stream.
type streamReader struct{ r *sim.Rand }

// Read fills b with bytes of the stream; it never fails.
func (s streamReader) Read(b []byte) (int, error) {
	for i := 0; i < len(b); i += 8 {
		v := s.r.Uint64()
		for j := i; j < len(b) && j < i+8; j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
	return len(b), nil
}

// withEntropy runs fn with crypto/rand.Reader reading from r, holding the
// process-wide entropy lock. The previous reader is restored even if fn
// panics (a panic in etcd raft is a failure of the seed, not of the
// campaign, and must not leave the lock held).
func withEntropy(r io.Reader, fn func()) {
	entropy.Lock()
	saved := crand.Reader
	crand.Reader = r
	defer func() {
		crand.Reader = saved
		entropy.Unlock()
	}()
	fn()
}
