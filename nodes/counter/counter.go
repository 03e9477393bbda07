// Package counter is dsim's example system: servers that keep a durable
// counter and clients that increment it by RPC. It is small enough to read in
// a minute and exercises every kernel feature a real system uses: RPC with
// timeouts, disk with Sync and checksums, restarts, client history.
//
// Like every package under nodes/, it may import only sim and the
// deterministic parts of the standard library.
package counter

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/smilingraft/dsim/sim"
)

// Inc asks a server to add one to its counter.
type Inc struct{}

// Size is the encoded size of an Inc.
func (Inc) Size() int { return 1 }

// IncReply carries the counter's value after the increment.
type IncReply struct{ N uint64 }

// Size is the encoded size of an IncReply.
func (IncReply) Size() int { return 8 }

// Server is a counter server. Each Inc is written (to a twin renamed over
// the record) and synced before the reply, unless NoSync (the example's
// deliberate bug) skips the Sync.
type Server struct {
	NoSync  bool
	env     *sim.Env
	n       uint64
	corrupt bool
}

const file = "counter"

// Start loads the counter from disk; a record whose checksum fails leaves the
// server refusing requests rather than serving a wrong value.
func (s *Server) Start(env *sim.Env) {
	s.env = env
	b, ok := env.Disk().Read(file)
	if !ok {
		return
	}
	if len(b) != 12 || crc32.ChecksumIEEE(b[:8]) != binary.LittleEndian.Uint32(b[8:]) {
		s.corrupt = true
		env.Sometimes("counter: corrupt record detected")
		return
	}
	s.n = binary.LittleEndian.Uint64(b)
}

// Receive handles Inc requests.
func (s *Server) Receive(from sim.NodeID, msg sim.Message) {
	req, ok := msg.(*sim.Request)
	if !ok || s.corrupt {
		return
	}
	if _, ok := req.Body.(Inc); !ok {
		return
	}
	s.n++
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:], s.n)
	binary.LittleEndian.PutUint32(b[8:], crc32.ChecksumIEEE(b[:8]))
	// Write a twin and rename it over the record: a crash between the
	// write and the Sync may tear the twin, never the record. (An in-place
	// Write was torn by a crash point in counter/swarm seed 91: the server
	// then found its only record corrupt and refused service forever.)
	s.env.Disk().Write(file+".tmp", b[:])
	s.env.Disk().Rename(file+".tmp", file)
	if !s.NoSync {
		s.env.Disk().Sync()
	}
	s.env.Reply(from, req, IncReply{N: s.n})
}

// Value returns the in-memory counter.
func (s *Server) Value() uint64 { return s.n }

// Inspect returns the server's state for a stopped run.
func (s *Server) Inspect() any { return map[string]any{"n": s.n, "corrupt": s.corrupt} }

// Stored decodes the counter a disk holds (ok=false if missing or corrupt).
func Stored(d *sim.Disk) (uint64, bool) {
	b, ok := d.Read(file)
	if !ok || len(b) != 12 || crc32.ChecksumIEEE(b[:8]) != binary.LittleEndian.Uint32(b[8:]) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

// Client sends Inc to a random server every Interval, one at a time, and
// records each as an operation in the history (input: server id; output: the
// value, or nothing if the call timed out).
type Client struct {
	Servers  []sim.NodeID
	Interval sim.Duration
	Timeout  sim.Duration
	// OnAck, if set, sees every acknowledged value: the harness's record of
	// what clients were promised (it survives client crashes on purpose).
	OnAck func(server sim.NodeID, n uint64)
	env   *sim.Env
}

// Start begins the client's loop.
func (c *Client) Start(env *sim.Env) {
	c.env = env
	env.After(c.Interval, c.tick)
}

func (c *Client) tick() {
	to := c.Servers[c.env.Rand().Intn(len(c.Servers))]
	op := c.env.Invoke(to)
	c.env.Call(to, Inc{}, c.Timeout, func(reply sim.Message, ok bool) {
		if ok {
			n := reply.(IncReply).N
			if c.OnAck != nil {
				c.OnAck(to, n)
			}
			c.env.Return(op, n)
		}
		c.env.After(c.Interval, c.tick)
	})
}

// Receive ignores unsolicited messages.
func (c *Client) Receive(sim.NodeID, sim.Message) {}
