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

// File-system operations. Writes (WriteAt, Create, Delete) are volatile
// until a Rename or Sync makes them durable, like page-cache writes before
// fsync: a crash of the FS node loses them (or keeps a torn prefix).
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
	// OpRename publishes Name as To: fsync(Name), rename without replacing,
	// fsync(directory), in one step. It applies only if Name holds Off bytes
	// whose CRC-32 is Sum, so that a file a crash cut short, or one a late
	// duplicated write re-created after an earlier rename, is never
	// published. If To already exists it is left as it is (the first
	// attempt to publish wins, so a published file never changes; the
	// source is removed) and the reply says Exists. A source that does not
	// match while To is missing is reported as Missing and changes nothing:
	// the writer must write the file again.
	OpRename
	// OpDelete removes Name (missing is fine).
	OpDelete
	// OpSync makes every write so far durable (syncfs).
	OpSync
)

var opNames = [...]string{"?", "writeat", "create", "read", "list", "rename", "delete", "sync"}

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

// FSReply answers an FSReq. OK is false for a malformed request.
type FSReply struct {
	OK      bool
	Missing bool
	// Exists says a rename found its target already published.
	Exists bool
	Data   []byte
	Names  []string
}

// Size is the reply's encoded size.
func (r *FSReply) Size() int {
	n := 8 + len(r.Data)
	for _, s := range r.Names {
		n += len(s) + 2
	}
	return n
}

// FS is the shared file system, a node whose files live on its own sim disk.
// Writes are volatile until a rename publishes a file (or a Sync), which
// makes everything written so far durable; a crash of the FS node loses
// what was not yet durable, and a restart serves the synced files: the disk
// is the whole state, there is nothing else to recover. Reads see partial
// files: nothing hides a file being written.
type FS struct {
	// OnChange, if set, runs after every request that changed a file, with
	// its name, and with "" at every start: a restart may have taken any
	// file back to its synced contents. Online checkers use it.
	OnChange func(name string)

	env *sim.Env
}

// Start keeps nothing in memory: the disk is the state.
func (f *FS) Start(env *sim.Env) {
	f.env = env
	if env.Incarnation() > 1 {
		env.Logf("fs: restarted with %d synced files", len(env.Disk().List()))
		env.Sometimes("mr: file system restarted")
	}
	if f.OnChange != nil {
		f.OnChange("")
	}
}

// Receive serves FS requests; anything else is logged and dropped.
func (f *FS) Receive(from sim.NodeID, msg sim.Message) {
	req, ok := msg.(*sim.Request)
	if !ok {
		f.env.Logf("fs: dropped a %T from %d: not a request", msg, from)
		return
	}
	r, ok := req.Body.(*FSReq)
	if !ok {
		f.env.Logf("fs: dropped a %T request from %d", req.Body, from)
		return
	}
	f.env.Reply(from, req, apply(f.env.Disk(), r, f.OnChange))
}

// Apply performs one file-system request on disk d and returns the reply; it
// is the FS node's whole logic, exported so that tests and scenarios can
// prepare a file system directly.
func Apply(d *sim.Disk, r *FSReq) *FSReply { return apply(d, r, nil) }

// Matches reports whether data is the file a rename of (size, sum) expects.
func Matches(data []byte, size int, sum uint32) bool {
	return len(data) == size && crc32.ChecksumIEEE(data) == sum
}

func apply(d *sim.Disk, r *FSReq, changed func(string)) *FSReply {
	touch := func(name string) {
		if changed != nil {
			changed(name)
		}
	}
	switch r.Op {
	case OpWriteAt:
		if r.Off < 0 || r.Name == "" {
			return &FSReply{}
		}
		old, _ := d.Read(r.Name)
		end := r.Off + len(r.Data)
		n := len(old)
		if end > n {
			n = end
		}
		b := make([]byte, n)
		copy(b, old)
		copy(b[r.Off:], r.Data)
		d.Write(r.Name, b)
		touch(r.Name)
		return &FSReply{OK: true}
	case OpCreate:
		if r.Name == "" {
			return &FSReply{}
		}
		d.Write(r.Name, r.Data)
		touch(r.Name)
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
		if r.Name == "" || r.To == "" || r.Name == r.To {
			return &FSReply{}
		}
		b, ok := d.Read(r.Name)
		match := ok && Matches(b, r.Off, r.Sum)
		if _, exists := d.Read(r.To); exists {
			if match {
				d.Delete(r.Name)
				d.Sync()
				touch(r.Name)
			}
			return &FSReply{OK: true, Exists: true}
		}
		if !match {
			return &FSReply{OK: true, Missing: true}
		}
		d.Rename(r.Name, r.To)
		d.Sync()
		touch(r.Name)
		touch(r.To)
		return &FSReply{OK: true}
	case OpDelete:
		if _, ok := d.Read(r.Name); ok {
			d.Delete(r.Name)
			touch(r.Name)
		}
		return &FSReply{OK: true}
	case OpSync:
		d.Sync()
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
