package sim

import "sort"

// DiskOptions say what a crash does to a disk's unsynced writes.
type DiskOptions struct {
	// Torn is the chance that a crash keeps an arbitrary prefix of the
	// unsynced writes, the last of them possibly cut short, instead of losing
	// them all.
	Torn Ratio `json:"torn,omitempty"`
}

// OpKind is the kind of a disk operation.
type OpKind uint8

// Disk operation kinds.
const (
	OpWrite OpKind = iota + 1
	OpAppend
	OpDelete
	OpRename
)

// DiskOp is one unsynced disk operation.
type DiskOp struct {
	Kind OpKind
	Name string
	To   string // rename target
	Data []byte
}

// Disk is a node's stable storage: named files, each a byte string. Writes
// are visible to reads at once but are volatile until Sync; a crash loses
// the unsynced ones (or keeps a torn prefix); Wipe loses everything; Corrupt
// flips bits that the node's own checksums must catch. Slices returned by
// Read must not be modified.
type Disk struct {
	w       *World
	p       *proc
	durable map[string][]byte
	cache   map[string][]byte
	pending []DiskOp
	syncs   uint64
	written uint64
}

func newDisk(w *World, p *proc) *Disk {
	return &Disk{w: w, p: p, durable: map[string][]byte{}, cache: map[string][]byte{}}
}

// Read returns the file's current contents (synced or not).
func (d *Disk) Read(name string) ([]byte, bool) {
	b, ok := d.cache[name]
	return b, ok
}

// Size returns the file's current length, 0 if missing.
func (d *Disk) Size(name string) int { return len(d.cache[name]) }

// TotalSize returns the sum of all current file lengths.
func (d *Disk) TotalSize() int {
	n := 0
	for _, b := range d.cache {
		n += len(b)
	}
	return n
}

// gate runs before disk operation op: it reports whether the operation may
// go ahead. A crashed process writes nothing (a handler that crashed at a
// crash point runs on, but its writes are void), and a crash point armed
// before op fires here.
func (d *Disk) gate(op string) bool {
	p := d.p
	if !p.up {
		return false
	}
	return p.point == nil || !d.w.hit(p, op, true, nil)
}

// after runs after disk operation op: a crash point armed after op fires.
func (d *Disk) after(op string) {
	if p := d.p; p.point != nil {
		d.w.hit(p, op, false, nil)
	}
}

// Write replaces the file's contents with a copy of data.
func (d *Disk) Write(name string, data []byte) {
	if !d.gate(OnWrite) {
		return
	}
	b := append([]byte(nil), data...)
	d.cache[name] = b
	d.pending = append(d.pending, DiskOp{Kind: OpWrite, Name: name, Data: b})
	d.written += uint64(len(data))
	d.after(OnWrite)
}

// Append appends a copy of data to the file, creating it if needed.
func (d *Disk) Append(name string, data []byte) {
	if !d.gate(OnAppend) {
		return
	}
	old := d.cache[name]
	b := append(Grow(old, len(data)), data...)
	d.cache[name] = b
	// The op shares the appended bytes with the cache: cache slices are
	// never written below their length (Write and Corrupt replace a slice,
	// Append writes past it), so the op's view cannot change.
	d.pending = append(d.pending, DiskOp{Kind: OpAppend, Name: name, Data: b[len(old):len(b):len(b)]})
	d.written += uint64(len(data))
	d.after(OnAppend)
}

// Delete removes the file.
func (d *Disk) Delete(name string) {
	if !d.gate(OnDelete) {
		return
	}
	delete(d.cache, name)
	d.pending = append(d.pending, DiskOp{Kind: OpDelete, Name: name})
	d.after(OnDelete)
}

// Rename atomically moves file from to to, replacing to. It is a no-op if
// from does not exist.
func (d *Disk) Rename(from, to string) {
	b, ok := d.cache[from]
	if !ok || !d.gate(OnRename) {
		return
	}
	delete(d.cache, from)
	d.cache[to] = b
	d.pending = append(d.pending, DiskOp{Kind: OpRename, Name: from, To: to})
	d.after(OnRename)
}

// List returns the current file names, sorted.
func (d *Disk) List() []string {
	names := make([]string, 0, len(d.cache))
	for k := range d.cache {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Sync makes every write so far durable.
//
// A Sync with nothing unsynced does nothing and is no crash point.
func (d *Disk) Sync() {
	if len(d.pending) == 0 || !d.gate(OnSync) {
		return
	}
	for _, op := range d.pending {
		for _, n := range [2]string{op.Name, op.To} {
			if n == "" {
				continue
			}
			if b, ok := d.cache[n]; ok {
				// Share the slice: cache slices are never written below
				// their length, so durable's view cannot change.
				d.durable[n] = b[:len(b):len(b)]
			} else {
				delete(d.durable, n)
			}
		}
	}
	d.pending = d.pending[:0]
	d.syncs++
	d.w.mix(evDisk, d.p.id, NoNode, 3)
	d.after(OnSync)
}

// Unsynced returns the writes a crash would now lose, oldest first: the
// crash states a small scenario may enumerate.
func (d *Disk) Unsynced() []DiskOp { return append([]DiskOp(nil), d.pending...) }

// Syncs returns how many Syncs made something durable.
func (d *Disk) Syncs() uint64 { return d.syncs }

// crash applies a crash: unsynced writes are lost, or (torn) a prefix of them
// is kept with the last one possibly cut short.
func (d *Disk) crash() {
	w := d.w
	if len(d.pending) > 0 && w.diskRand.Chance(w.opts.Disk.Torn) {
		k := w.diskRand.Intn(len(d.pending) + 1)
		for i := 0; i < k; i++ {
			op := d.pending[i]
			if i == k-1 && (op.Kind == OpWrite || op.Kind == OpAppend) && len(op.Data) > 0 {
				op.Data = op.Data[:w.diskRand.Intn(len(op.Data)+1)]
			}
			d.apply(op)
		}
		w.mix(evDisk, d.p.id, NoNode, int64(k)<<8|4)
		w.record(trDisk, d.p.id, NoNode, 0, "torn")
	}
	d.pending = d.pending[:0]
	d.cache = make(map[string][]byte, len(d.durable))
	for k, v := range d.durable {
		d.cache[k] = v
	}
}

// apply applies op to the durable state (used for torn crashes only).
func (d *Disk) apply(op DiskOp) {
	switch op.Kind {
	case OpWrite:
		d.durable[op.Name] = append([]byte(nil), op.Data...)
	case OpAppend:
		old := d.durable[op.Name]
		d.durable[op.Name] = append(old[:len(old):len(old)], op.Data...)
	case OpDelete:
		delete(d.durable, op.Name)
	case OpRename:
		if b, ok := d.durable[op.Name]; ok {
			delete(d.durable, op.Name)
			d.durable[op.To] = b
		}
	}
}

func (d *Disk) wipe() {
	d.durable = map[string][]byte{}
	d.cache = map[string][]byte{}
	d.pending = d.pending[:0]
}

func (d *Disk) corrupt(r *Rand) bool {
	var names []string
	for k, v := range d.durable {
		if len(v) > 0 {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return false
	}
	sort.Strings(names)
	name := names[r.Intn(len(names))]
	old := d.durable[name]
	b := append([]byte(nil), old...)
	bit := r.Intn(len(b) * 8)
	b[bit/8] ^= 1 << (bit % 8)
	d.durable[name] = b
	if c, ok := d.cache[name]; ok && len(c) == len(old) && (len(c) == 0 || &c[0] == &old[0]) {
		d.cache[name] = b
	}
	return true
}
