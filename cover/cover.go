// Package cover reads the running binary's Go coverage counters, so that a
// campaign can tell which blocks of the systems under test each seed
// executed: the per-seed signal of a coverage-guided search and the data of
// `dsim campaign --cover`.
//
// It works only in a binary built with Go's coverage instrumentation in
// atomic mode, over the packages of the systems under test and the main
// package (the runtime sets its counters up from an instrumented main's
// init; without it every call fails):
//
//	go build -cover -covermode=atomic -coverpkg=./nodes/...,./cmd/dsim -o dsim ./cmd/dsim
//
// Elsewhere Check says how to build one and every other call fails with
// that error. Only atomic mode lets the counters be cleared while the
// program runs (runtime/coverage.ClearCounters). A test binary (go test
// -cover) does not do: its runtime computes the meta-data hash only at
// exit, so runtime/coverage refuses to write counters before; tests build a
// program with go build -cover and run it (see testdata/selftest).
//
// The API, per seed:
//
//	if err := cover.Check(); err != nil { ... }     // once: built with -cover?
//	p, err := cover.Measure(func() { run the seed }) // Reset, fn, Snapshot
//	fresh := seen.Add(p)                             // blocks no earlier seed reached
//
// Reset clears every counter and Snapshot reads them (through
// runtime/coverage.WriteCounters and a reader of Go's documented counter
// and meta-data file formats, internal/coverage/defs.go). Counters are
// process-wide: a Profile is the blocks executed by every goroutine
// between Reset and Snapshot, so per-seed profiles need one seed at a time.
// Measure serialises its callers with a lock, so concurrent workers that
// all go through Measure get exact profiles (and run one at a time);
// anything else running meanwhile (a hung seed's abandoned goroutine, code
// of instrumented packages outside a seed) is counted too.
//
// A block is identified by a BlockID, its index in the binary's block table
// (Blocks): package, file, function, line and column range, statements.
// IDs are dense (0..len-1), stable for one build, and meaningful only with
// the table of the build that made them (Table.Hash names it).
//
// Cost: a Reset and a Snapshot walk every counter of the instrumented
// packages (about 2,100 blocks for dsim's nodes/): 16-37 µs a seed. The
// instrumentation itself (an atomic add per executed block) is the real
// cost, about 2.3x per seed (testdata/seedbench; the README's Coverage
// section).
//
// Beside the standard library it imports only replay, for its atomic file
// writes.
package cover

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/coverage"
	"sort"
	"sync"
)

// BuildHint is how to build dsim so that Check passes; a binary of another
// module names its own systems' packages and its main package in -coverpkg.
const BuildHint = "go build -cover -covermode=atomic -coverpkg=./nodes/...,./cmd/dsim -o dsim ./cmd/dsim"

// ErrNotInstrumented is what Check wraps when the binary has no coverage
// counters or they are not in atomic mode.
var ErrNotInstrumented = errors.New("this binary has no atomic coverage counters")

// BlockID is a block's index in the binary's Table.
type BlockID uint32

// Block is one coverable unit (a basic block) of the source.
type Block struct {
	// Pkg is the package's index in Table.Packages.
	Pkg int `json:"pkg"`
	// File is the source file as the compiler names it, import path and
	// file name ("github.com/smilingraft/dsim/nodes/kv/server.go"); Func is
	// the function's name ("*Server.apply", "Server.Get", "newTable"; a
	// function literal is named after its position by the compiler).
	File string `json:"file"`
	Func string `json:"func"`
	// Lines and columns, 1-based, inclusive start, as `go tool cover`.
	StartLine uint32 `json:"sl"`
	StartCol  uint32 `json:"sc"`
	EndLine   uint32 `json:"el"`
	EndCol    uint32 `json:"ec"`
	// Stmts is the number of statements in the block.
	Stmts uint32 `json:"stmts"`
}

// Package is one instrumented package of a Table.
type Package struct {
	Path string `json:"path"`
	// First is the ID of its first block; its blocks are First..First+N-1.
	First BlockID `json:"first"`
	N     int     `json:"n"`
}

// Table is the binary's block table: every coverable block of every
// instrumented package, in the order the runtime registered them.
type Table struct {
	// Hash is the hex hash of the binary's coverage meta-data: two tables
	// with one hash have the same blocks under the same IDs.
	Hash     string    `json:"hash"`
	Mode     string    `json:"mode"`
	Packages []Package `json:"packages"`
	Blocks   []Block   `json:"blocks"`

	base [][]BlockID // base[pkg][func]: the func's first block
	nctr [][]uint32  // nctr[pkg][func]: its number of blocks
}

// Hit is one executed block and how many times it ran.
type Hit struct {
	Block BlockID
	Count uint32
}

// Profile is what a Snapshot saw: the blocks executed since the last Reset
// (counts saturate at 2^32-1), sorted by BlockID.
type Profile struct {
	Hits []Hit
}

// Len is the number of blocks executed.
func (p *Profile) Len() int { return len(p.Hits) }

// NewBlocks counts the blocks of p that seen does not hold, without adding
// them.
func (p *Profile) NewBlocks(seen *Set) int {
	n := 0
	for _, h := range p.Hits {
		if !seen.Has(h.Block) {
			n++
		}
	}
	return n
}

// Set is a set of blocks (a bitmap over BlockIDs), such as every block a
// campaign has reached so far. The zero value is empty and ready.
type Set struct {
	bits []uint64
	n    int
}

// Has reports whether b is in the set.
func (s *Set) Has(b BlockID) bool {
	i := int(b >> 6)
	return i < len(s.bits) && s.bits[i]&(1<<(b&63)) != 0
}

// Insert adds b and reports whether it was new.
func (s *Set) Insert(b BlockID) bool {
	i := int(b >> 6)
	for i >= len(s.bits) {
		s.bits = append(s.bits, 0)
	}
	m := uint64(1) << (b & 63)
	if s.bits[i]&m != 0 {
		return false
	}
	s.bits[i] |= m
	s.n++
	return true
}

// Add inserts every block of p and returns how many were new.
func (s *Set) Add(p *Profile) int {
	n := 0
	for _, h := range p.Hits {
		if s.Insert(h.Block) {
			n++
		}
	}
	return n
}

// Len is the number of blocks in the set.
func (s *Set) Len() int { return s.n }

// IDs lists the set's blocks in increasing order.
func (s *Set) IDs() []BlockID {
	out := make([]BlockID, 0, s.n)
	for i, w := range s.bits {
		for j := 0; w != 0; j++ {
			if w&1 != 0 {
				out = append(out, BlockID(i*64+j))
			}
			w >>= 1
		}
	}
	return out
}

var (
	tableOnce sync.Once
	table     *Table
	tableErr  error
	measureMu sync.Mutex
)

// Check returns nil when the binary has atomic coverage counters, else an
// error wrapping ErrNotInstrumented that says how to build one.
func Check() error {
	_, err := Blocks()
	return err
}

// Blocks returns the binary's block table (read once, then shared: do not
// modify it).
func Blocks() (*Table, error) {
	tableOnce.Do(func() {
		var buf bytes.Buffer
		if err := coverage.WriteMeta(&buf); err != nil {
			// The runtime's error ("no meta-data available (binary not
			// built with -cover?)") says less than this.
			tableErr = fmt.Errorf("%w (not built with -cover, or its main package not in -coverpkg): build it with %s", ErrNotInstrumented, BuildHint)
			return
		}
		t, err := ParseMeta(buf.Bytes())
		if err != nil {
			tableErr = err
			return
		}
		if t.Mode != "atomic" {
			tableErr = fmt.Errorf("%w: it was built with -covermode=%s; build it with %s", ErrNotInstrumented, t.Mode, BuildHint)
			return
		}
		if len(t.Blocks) == 0 {
			tableErr = fmt.Errorf("%w: no package is instrumented; build it with %s", ErrNotInstrumented, BuildHint)
			return
		}
		table = t
	})
	return table, tableErr
}

// Reset clears every coverage counter of the binary.
func Reset() error {
	if _, err := Blocks(); err != nil {
		return err
	}
	return coverage.ClearCounters()
}

// Snapshot reads every counter of the binary: the blocks executed since
// the last Reset (or since the program started).
func Snapshot() (*Profile, error) {
	t, err := Blocks()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := coverage.WriteCounters(&buf); err != nil {
		return nil, fmt.Errorf("cover: reading counters: %v", err)
	}
	return t.ParseCounters(buf.Bytes())
}

// Measure runs fn between a Reset and a Snapshot, holding a lock that
// every Measure takes, so that two callers never share counters.
func Measure(fn func()) (*Profile, error) {
	measureMu.Lock()
	defer measureMu.Unlock()
	if err := Reset(); err != nil {
		return nil, err
	}
	fn()
	return Snapshot()
}

// reader decodes the little-endian and ULEB128 fields of Go's coverage
// files; the first error sticks.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("cover: malformed coverage data: %s at offset %d", what, r.off)
	}
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || r.off+n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	out := r.b[r.off : r.off+n]
	r.off += n
	return out
}

func (r *reader) u32() uint32 {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *reader) u64() uint64 {
	b := r.bytes(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (r *reader) uleb() uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		b := r.bytes(1)
		if b == nil {
			return 0
		}
		if shift >= 64 {
			r.fail("ULEB128 overflow")
			return 0
		}
		v |= uint64(b[0]&0x7f) << shift
		if b[0]&0x80 == 0 {
			return v
		}
	}
}

func (r *reader) seek(off uint64) {
	if off > uint64(len(r.b)) {
		r.fail("offset out of range")
		return
	}
	r.off = int(off)
}

// strtab reads a string table: a ULEB128 count, then each string's
// ULEB128 length and bytes.
func (r *reader) strtab() []string {
	n := r.uleb()
	if n > uint64(len(r.b)) {
		r.fail("string table count")
		return nil
	}
	out := make([]string, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		l := r.uleb()
		if l > uint64(len(r.b)) {
			r.fail("string length")
			return nil
		}
		out = append(out, string(r.bytes(int(l))))
	}
	return out
}

var (
	metaMagic    = [4]byte{0x00, 0x63, 0x76, 0x6d}
	counterMagic = [4]byte{0x00, 0x63, 0x77, 0x6d}
)

const (
	metaFileHeaderSize = 56 // coverage.MetaFileHeader
	metaSymHeaderSize  = 44 // coverage.CovMetaHeaderSize
	counterHeaderSize  = 32 // coverage.CounterFileHeader
	flavorRaw          = 1
	flavorULEB         = 2
)

var modes = map[byte]string{1: "set", 2: "count", 3: "atomic"}

// ParseMeta decodes a coverage meta-data file (what
// runtime/coverage.WriteMeta writes, the covmeta.* file of GOCOVERDIR)
// into a block table.
func ParseMeta(b []byte) (*Table, error) {
	r := &reader{b: b}
	if m := r.bytes(4); m == nil || [4]byte(m) != metaMagic {
		return nil, fmt.Errorf("cover: not a coverage meta-data file")
	}
	if v := r.u32(); v != 1 {
		return nil, fmt.Errorf("cover: meta-data version %d, want 1", v)
	}
	r.u64() // total length
	npkg := r.u64()
	hash := r.bytes(16)
	r.u32() // string table offset
	r.u32() // string table length
	mode := r.bytes(1)
	r.bytes(1 + 6) // granularity, padding
	if r.err != nil {
		return nil, r.err
	}
	if npkg > uint64(len(b))/16 {
		return nil, fmt.Errorf("cover: meta-data claims %d packages", npkg)
	}
	t := &Table{Hash: fmt.Sprintf("%x", hash), Mode: modes[mode[0]]}
	if t.Mode == "" {
		t.Mode = fmt.Sprintf("mode%d", mode[0])
	}
	offs := make([]uint64, npkg)
	lens := make([]uint64, npkg)
	for i := range offs {
		offs[i] = r.u64()
	}
	for i := range lens {
		lens[i] = r.u64()
	}
	for i := range offs {
		if r.err != nil {
			return nil, r.err
		}
		if offs[i] > uint64(len(b)) || lens[i] > uint64(len(b))-offs[i] {
			return nil, fmt.Errorf("cover: malformed coverage data: package %d out of range", i)
		}
		if err := t.addPackage(b[offs[i] : offs[i]+lens[i]]); err != nil {
			return nil, err
		}
	}
	return t, r.err
}

// addPackage decodes one package's meta-data blob.
func (t *Table) addPackage(blob []byte) error {
	r := &reader{b: blob}
	r.u32() // length
	r.u32() // package name
	pathIdx := r.u32()
	r.u32()       // module path
	r.bytes(16)   // hash
	r.bytes(4)    // unused, padding
	r.u32()       // number of files
	nf := r.u32() // number of functions
	if r.err != nil || uint64(nf) > uint64(len(blob))/4 {
		return fmt.Errorf("cover: malformed coverage data: package header")
	}
	foffs := make([]uint32, nf)
	for i := range foffs {
		foffs[i] = r.u32()
	}
	strs := r.strtab()
	if r.err != nil {
		return r.err
	}
	str := func(i uint64) string {
		if i >= uint64(len(strs)) {
			r.fail("string index")
			return ""
		}
		return strs[i]
	}
	pkg := len(t.Packages)
	p := Package{Path: str(uint64(pathIdx)), First: BlockID(len(t.Blocks))}
	base := make([]BlockID, nf)
	nctr := make([]uint32, nf)
	for f := range foffs {
		r.seek(uint64(foffs[f]))
		nu := r.uleb()
		fn := str(r.uleb())
		file := str(r.uleb())
		if nu > uint64(len(blob)) {
			r.fail("unit count")
		}
		if r.err != nil {
			return r.err
		}
		base[f] = BlockID(len(t.Blocks))
		nctr[f] = uint32(nu)
		for u := uint64(0); u < nu; u++ {
			blk := Block{Pkg: pkg, File: file, Func: fn}
			blk.StartLine = uint32(r.uleb())
			blk.StartCol = uint32(r.uleb())
			blk.EndLine = uint32(r.uleb())
			blk.EndCol = uint32(r.uleb())
			blk.Stmts = uint32(r.uleb())
			t.Blocks = append(t.Blocks, blk)
		}
		r.uleb() // function literal flag
	}
	if r.err != nil {
		return r.err
	}
	p.N = len(t.Blocks) - int(p.First)
	t.Packages = append(t.Packages, p)
	t.base = append(t.base, base)
	t.nctr = append(t.nctr, nctr)
	return nil
}

// ParseCounters decodes a coverage counter-data file's first segment (what
// runtime/coverage.WriteCounters writes) against t, the table of the same
// binary.
func (t *Table) ParseCounters(b []byte) (*Profile, error) {
	r := &reader{b: b}
	if m := r.bytes(4); m == nil || [4]byte(m) != counterMagic {
		return nil, fmt.Errorf("cover: not a coverage counter-data file")
	}
	if v := r.u32(); v != 1 {
		return nil, fmt.Errorf("cover: counter-data version %d, want 1", v)
	}
	if h := fmt.Sprintf("%x", r.bytes(16)); r.err == nil && h != t.Hash {
		return nil, fmt.Errorf("cover: counter data of another build (meta-data hash %s, this table's %s)", h, t.Hash)
	}
	hdr := r.bytes(8) // flavor, big endian, padding
	if r.err != nil {
		return nil, r.err
	}
	flavor, big := hdr[0], hdr[1] != 0
	if big || (flavor != flavorRaw && flavor != flavorULEB) {
		return nil, fmt.Errorf("cover: counter flavor %d (big endian %v) not supported", flavor, big)
	}
	nfn := r.u64()
	strLen := r.u32()
	argsLen := r.u32()
	r.bytes(int(strLen))
	r.bytes(int(argsLen))
	val := r.uleb
	if flavor == flavorRaw {
		val = func() uint64 { return uint64(r.u32()) }
	}
	p := &Profile{}
	for i := uint64(0); i < nfn && r.err == nil; i++ {
		n, pkg, fn := val(), val(), val()
		if pkg >= uint64(len(t.base)) || fn >= uint64(len(t.base[pkg])) || n != uint64(t.nctr[pkg][fn]) {
			return nil, fmt.Errorf("cover: counters for package %d function %d (%d blocks) not in this build's table", pkg, fn, n)
		}
		first := t.base[pkg][fn]
		for k := uint64(0); k < n; k++ {
			c := val()
			if c == 0 {
				continue
			}
			if c > 0xffffffff {
				c = 0xffffffff
			}
			p.Hits = append(p.Hits, Hit{Block: first + BlockID(k), Count: uint32(c)})
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	sort.Slice(p.Hits, func(i, j int) bool { return p.Hits[i].Block < p.Hits[j].Block })
	return p, nil
}
