package rsm

import (
	"encoding/binary"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/smilingraft/dsim/sim"
)

// Checkers the counter service and the scenarios report.
const (
	// CheckDec: a Dec op executed (the lab's fatal error): an op submitted
	// to a leader cut off in a minority committed.
	CheckDec = "rsm.dec-executed"
	// CheckExactlyOnce: a client's tagged op was applied twice (or out of
	// its order) on some server.
	CheckExactlyOnce = "rsm.exactly-once"
	// CheckReply: a Submit returned a wrong answer (an Inc's value, a Dec
	// that returned OK).
	CheckReply = "rsm.reply"
	// CheckCount: a server's counter is not what the acknowledged ops imply.
	CheckCount = "rsm.count"
	// CheckStaleRead: a read returned a value that misses an Inc
	// acknowledged before it began, or counts one not yet issued.
	CheckStaleRead = "rsm.stale-read"
	// CheckLiveness: an op or a batch did not finish within its bound.
	CheckLiveness = "rsm.liveness"
	// CheckSize: Raft's persisted state outgrew its bound.
	CheckSize = "rsm.raft-state-size"
	// CheckScript: a lab script was still running at the scenario's end.
	CheckScript = "rsm.script"
)

// counter is the lab's RSM test service. Ops are text:
//
//	inc [client seq]  add one, return the new value (decimal)
//	null [client seq] nothing
//	dec               must never execute: it fails the run (CheckDec)
//	get               return the value (also a Query, for ReadIndex reads)
//
// A tagged op (client, seq) is checked for exactly-once: each server's
// replicated state keeps every client's last tagged seq, and a tag at or
// below it is an op applied twice (CheckExactlyOnce). The table grows with
// clients, not ops, and is part of the snapshot.
type counter struct {
	env    *sim.Env
	server int
	n      int64
	last   map[uint64]uint64 // client -> last tagged seq applied
	runs   uint64            // DoOp calls in this incarnation

	// Test hooks that break the service on purpose.
	skipDupCheck bool // no online exactly-once check
	double       bool // every Inc adds two
}

func newCounter(env *sim.Env, server int) *counter {
	return &counter{env: env, server: server, last: map[uint64]uint64{}}
}

// parseOp splits an op into its verb and optional (client, seq) tag. Ops
// of ASCII text (the workloads') are split in place without allocating;
// anything else goes through strings.Fields, with the same outcome.
func parseOp(op []byte) (verb string, client, seq uint64, ok bool) {
	var f [3][]byte
	n := 0
	for i := 0; i < len(op); {
		c := op[i]
		if c >= utf8.RuneSelf {
			return parseFields(op)
		}
		if asciiSpace(c) {
			i++
			continue
		}
		j := i
		for j < len(op) && op[j] < utf8.RuneSelf && !asciiSpace(op[j]) {
			j++
		}
		if j < len(op) && op[j] >= utf8.RuneSelf {
			return parseFields(op)
		}
		if n == len(f) {
			return "", 0, 0, false // more than 3 fields
		}
		f[n] = op[i:j]
		n++
		i = j
	}
	switch {
	case n == 1:
		return verbOf(f[0]), 0, 0, true
	case n == 3:
		c, ok1 := parseUint(f[1])
		s, ok2 := parseUint(f[2])
		if ok1 && ok2 && c != 0 {
			return verbOf(f[0]), c, s, true
		}
	}
	return "", 0, 0, false
}

// parseFields is parseOp by strings.Fields, for ops that are not ASCII.
func parseFields(op []byte) (verb string, client, seq uint64, ok bool) {
	f := strings.Fields(string(op))
	switch {
	case len(f) == 1:
		return f[0], 0, 0, true
	case len(f) == 3:
		c, err1 := strconv.ParseUint(f[1], 10, 64)
		s, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 == nil && err2 == nil && c != 0 {
			return f[0], c, s, true
		}
	}
	return "", 0, 0, false
}

// asciiSpace reports the ASCII bytes unicode.IsSpace (and so strings.Fields)
// treats as space.
func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// verbOf returns b as a string, without allocating for the known verbs.
func verbOf(b []byte) string {
	switch string(b) {
	case "inc":
		return "inc"
	case "null":
		return "null"
	case "get":
		return "get"
	case "dec":
		return "dec"
	}
	return string(b)
}

// parseUint is strconv.ParseUint(string(b), 10, 64) without the copy: 1 to
// 19 decimal digits cannot overflow, and anything but digits is an error
// for ParseUint in base 10 too (no sign, no underscores); other lengths go
// to strconv itself.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		v, err := strconv.ParseUint(string(b), 10, 64)
		return v, err == nil
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// taggedOp is the op "verb client seq" (fmt's "%s %d %d"), in one
// allocation.
func taggedOp(verb string, client, seq uint64) []byte {
	op := make([]byte, 0, len(verb)+2+2*20)
	op = append(append(op, verb...), ' ')
	op = append(strconv.AppendUint(op, client, 10), ' ')
	return strconv.AppendUint(op, seq, 10)
}

// DoOp applies one committed op.
func (c *counter) DoOp(op []byte) []byte { return c.apply(nil, op, true) }

// AppendDoOp is DoOp with the result appended to dst (an empty result
// leaves dst as it is): the rsm.ResultAppender method.
func (c *counter) AppendDoOp(dst, op []byte) []byte {
	if r := c.apply(dst, op, true); r != nil {
		return r
	}
	return dst
}

// ApplyOnly applies op as DoOp does without making its result: the
// rsm.ResultlessApplier method, for an op nobody waits for here.
func (c *counter) ApplyOnly(op []byte) { c.apply(nil, op, false) }

// apply is DoOp, its result appended to dst (nil: no result), only if
// result (every effect either way).
func (c *counter) apply(dst, op []byte, result bool) []byte {
	c.runs++
	verb, client, seq, ok := parseOp(op)
	if !ok {
		c.env.Logf("counter: malformed op %q", op)
		return append(dst, "ERR malformed op"...)
	}
	if client != 0 && !c.skipDupCheck {
		if last, seen := c.last[client]; seen && seq <= last {
			c.env.Fail(CheckExactlyOnce, "server %d applied %q but client %d's seq %d was applied already", c.server, op, client, last)
			return nil
		}
		c.last[client] = seq
	}
	switch verb {
	case "inc":
		c.n++
		if c.double {
			c.n++
		}
		return c.value(dst, result)
	case "null":
		return nil
	case "get":
		return c.value(dst, result)
	case "dec":
		c.env.Fail(CheckDec, "server %d executed Dec %q", c.server, op)
		c.n--
		return nil
	}
	c.env.Logf("counter: unknown op %q", op)
	return append(dst, "ERR unknown op"...)
}

// value is the counter in decimal appended to dst (nil unless result).
func (c *counter) value(dst []byte, result bool) []byte {
	if !result {
		return nil
	}
	return strconv.AppendInt(dst, c.n, 10)
}

// Query answers "get" from local state.
func (c *counter) Query(op []byte) []byte {
	if string(op) != "get" {
		return []byte("ERR not a read")
	}
	return []byte(strconv.FormatInt(c.n, 10))
}

// Snapshot encodes the value and the tag table (sorted by client).
func (c *counter) Snapshot() []byte {
	clients := make([]uint64, 0, len(c.last))
	for k := range c.last {
		clients = append(clients, k)
	}
	sort.Slice(clients, func(i, j int) bool { return clients[i] < clients[j] })
	b := binary.AppendVarint(nil, c.n)
	for _, k := range clients {
		b = binary.AppendUvarint(b, k)
		b = binary.AppendUvarint(b, c.last[k])
	}
	return b
}

// Restore loads a snapshot; a malformed one fails the run.
func (c *counter) Restore(b []byte) {
	c.n, c.last = 0, map[uint64]uint64{}
	if len(b) == 0 {
		return
	}
	n, k := binary.Varint(b)
	if k <= 0 {
		c.env.Fail("rsm.counter-snapshot", "server %d: bad counter snapshot", c.server)
		return
	}
	c.n, b = n, b[k:]
	for len(b) > 0 {
		cl, k1 := binary.Uvarint(b)
		if k1 <= 0 {
			c.env.Fail("rsm.counter-snapshot", "server %d: bad client in counter snapshot", c.server)
			return
		}
		seq, k2 := binary.Uvarint(b[k1:])
		if k2 <= 0 {
			c.env.Fail("rsm.counter-snapshot", "server %d: bad seq in counter snapshot", c.server)
			return
		}
		c.last[cl] = seq
		b = b[k1+k2:]
	}
}
