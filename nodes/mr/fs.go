// Package mr is MIT 6.5840 Lab 1's MapReduce as dsim nodes: a shared file
// system server (FS), a coordinator that hands out map then reduce tasks and
// re-issues those whose workers fall silent, workers that run the lab's
// applications (wc, indexer, mtiming, rtiming, jobcount, early_exit, crash,
// nocrash) and publish every output by writing a temporary file and renaming
// it, and the deterministic input texts.
//
// Everything runs on virtual time: an application's compute time, sleeps and
// "process exits" are Effects the worker plays out with timers, RPCs to the
// FS and a kill hook.
//
// Like every package under nodes/, it may import only sim and the
// deterministic parts of the standard library (no time, sync, os, math/rand,
// unsafe; no goroutines or channels).
package mr

import (
	"hash/crc32"
	"sort"
	"strings"

	"github.com/smilingraft/dsim/sim"
)

// FSOp is the kind of a file-system request.
type FSOp uint8

// File-system operations.
const (
	// OpWriteAt writes Data at offset Off of Name, creating and extending
	// it as needed; bytes past the write are kept, and a write past the end
	// leaves a hole of zero bytes (POSIX pwrite). Replaying it is harmless, so
	// retries and duplicates are safe.
	OpWriteAt FSOp = iota + 1
	// OpCreate replaces Name's contents with Data (truncating): what an
	// in-place writer does when it opens its output file.
	OpCreate
	// OpRead returns Name's current contents, complete or not.
	OpRead
	// OpList returns the names that start with Name, sorted.
	OpList
	// OpRename atomically moves Name to To, replacing To, if Name holds Off
	// bytes whose CRC-32 is Sum: a duplicated rename delivered late must not
	// publish a stray copy of Name that a late duplicated write re-created
	// after the first rename. A missing or different source is reported
	// (Missing) and changes nothing.
	OpRename
	// OpDelete removes Name (missing is fine).
	OpDelete
)

var opNames = [...]string{"?", "writeat", "create", "read", "list", "rename", "delete"}

// String names the operation.
func (o FSOp) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "?"
}

// FSReq is one file-system request, sent with Env.Call to the FS node.
type FSReq struct {
	Op   FSOp
	Name string
	To   string
	Off  int
	Sum  uint32
	Data []byte
}

// Size is the request's encoded size.
func (r *FSReq) Size() int { return 20 + len(r.Name) + len(r.To) + len(r.Data) }

// FSReply answers an FSReq.
type FSReply struct {
	OK      bool
	Missing bool
	Data    []byte
	Names   []string
}

// Size is the reply's encoded size.
func (r *FSReply) Size() int {
	n := 8 + len(r.Data)
	for _, s := range r.Names {
		n += len(s) + 2
	}
	return n
}

// FS is the shared file system, a node whose files live on its own sim disk
// (each change synced before the reply, so it survives a crash). Scenarios
// keep it reliable: it plays the lab's local directory that every process
// shares. Reads see partial files: nothing hides a file being written.
type FS struct {
	env *sim.Env
}

// Start keeps nothing in memory: the disk is the state.
func (f *FS) Start(env *sim.Env) { f.env = env }

// Receive serves FS requests.
func (f *FS) Receive(from sim.NodeID, msg sim.Message) {
	req, ok := msg.(*sim.Request)
	if !ok {
		return
	}
	r, ok := req.Body.(*FSReq)
	if !ok {
		return
	}
	f.env.Reply(from, req, Apply(f.env.Disk(), r))
}

// Apply performs one file-system request on disk d and returns the reply; it
// is the FS node's whole logic, exported so that tests and scenarios can
// prepare a file system directly.
func Apply(d *sim.Disk, r *FSReq) *FSReply {
	switch r.Op {
	case OpWriteAt:
		old, _ := d.Read(r.Name)
		if r.Off < 0 {
			return &FSReply{}
		}
		end := r.Off + len(r.Data)
		n := len(old)
		if end > n {
			n = end
		}
		b := make([]byte, n)
		copy(b, old)
		copy(b[r.Off:], r.Data)
		d.Write(r.Name, b)
		d.Sync()
		return &FSReply{OK: true}
	case OpCreate:
		d.Write(r.Name, r.Data)
		d.Sync()
		return &FSReply{OK: true}
	case OpRead:
		b, ok := d.Read(r.Name)
		if !ok {
			return &FSReply{Missing: true}
		}
		return &FSReply{OK: true, Data: b}
	case OpList:
		var names []string
		for _, n := range d.List() {
			if strings.HasPrefix(n, r.Name) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		return &FSReply{OK: true, Names: names}
	case OpRename:
		if b, ok := d.Read(r.Name); !ok || len(b) != r.Off || crc32.ChecksumIEEE(b) != r.Sum {
			return &FSReply{OK: true, Missing: true}
		}
		d.Rename(r.Name, r.To)
		d.Sync()
		return &FSReply{OK: true}
	case OpDelete:
		if _, ok := d.Read(r.Name); ok {
			d.Delete(r.Name)
			d.Sync()
		}
		return &FSReply{OK: true}
	}
	return &FSReply{}
}

// Inspect lists the FS's files and sizes for a stopped run.
func (f *FS) Inspect() any {
	d := f.env.Disk()
	out := map[string]int{}
	for _, n := range d.List() {
		out[n] = d.Size(n)
	}
	return out
}
