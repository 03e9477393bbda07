package mr

import (
	"hash/crc32"
	"testing"

	"github.com/smilingraft/dsim/sim"
)

func disk(t *testing.T) *sim.Disk {
	t.Helper()
	w := sim.NewWorld(1, sim.Options{})
	id := w.AddNode("fs", func() sim.Node { return &FS{} })
	return w.Disk(id)
}

func read(d *sim.Disk, name string) string {
	b, _ := d.Read(name)
	return string(b)
}

func TestFSWriteAtIsIdempotentAndLeavesHoles(t *testing.T) {
	d := disk(t)
	Apply(d, &FSReq{Op: OpWriteAt, Name: "f", Off: 0, Data: []byte("abc")})
	Apply(d, &FSReq{Op: OpWriteAt, Name: "f", Off: 3, Data: []byte("def")})
	Apply(d, &FSReq{Op: OpWriteAt, Name: "f", Off: 0, Data: []byte("abc")}) // duplicate, late
	if got := read(d, "f"); got != "abcdef" {
		t.Fatalf("after a duplicated first chunk: %q, want abcdef", got)
	}
	Apply(d, &FSReq{Op: OpWriteAt, Name: "g", Off: 2, Data: []byte("x")})
	if got := read(d, "g"); got != "\x00\x00x" {
		t.Fatalf("write past the end: %q, want a hole then x", got)
	}
	Apply(d, &FSReq{Op: OpCreate, Name: "f", Data: []byte("z")})
	if got := read(d, "f"); got != "z" {
		t.Fatalf("create must truncate: %q", got)
	}
}

// TestFSLateDuplicateRenameDoesNotPublishStray replays the safe protocol's
// once-found bug: a late duplicated chunk re-creates the renamed temporary
// file, and a late duplicated rename then must not publish it.
func TestFSLateDuplicateRenameDoesNotPublishStray(t *testing.T) {
	d := disk(t)
	data := []byte("key\t1\nkey2\t1\n")
	ren := &FSReq{Op: OpRename, Name: "tmp", To: "mr-0-0", Off: len(data), Sum: crc32.ChecksumIEEE(data)}
	Apply(d, &FSReq{Op: OpWriteAt, Name: "tmp", Off: 0, Data: data[:6]})
	Apply(d, &FSReq{Op: OpWriteAt, Name: "tmp", Off: 6, Data: data[6:]})
	if r := Apply(d, ren); !r.OK || r.Missing || r.Exists {
		t.Fatalf("rename of the complete file: %+v", r)
	}
	Apply(d, &FSReq{Op: OpWriteAt, Name: "tmp", Off: 6, Data: data[6:]}) // late duplicate
	if r := Apply(d, ren); !r.OK || !r.Exists {
		t.Fatalf("late duplicate rename: %+v, want Exists", r)
	}
	if got := read(d, "mr-0-0"); got != string(data) {
		t.Fatalf("published file clobbered: %q", got)
	}
}

// TestFSRenameNeverReplaces: a second attempt's complete file does not
// replace a published one (the first publication wins) and its temporary
// file is removed; a rename of an incomplete file with no published target
// is reported Missing and changes nothing.
func TestFSRenameNeverReplaces(t *testing.T) {
	d := disk(t)
	first, second := []byte("a 1\n"), []byte("a 2\n")
	Apply(d, &FSReq{Op: OpWriteAt, Name: "t1", Data: first})
	Apply(d, &FSReq{Op: OpWriteAt, Name: "t2", Data: second})
	if r := Apply(d, &FSReq{Op: OpRename, Name: "t1", To: "mr-out-0", Off: len(first), Sum: crc32.ChecksumIEEE(first)}); r.Exists || r.Missing {
		t.Fatalf("first publication: %+v", r)
	}
	if r := Apply(d, &FSReq{Op: OpRename, Name: "t2", To: "mr-out-0", Off: len(second), Sum: crc32.ChecksumIEEE(second)}); !r.Exists {
		t.Fatalf("second publication: %+v, want Exists", r)
	}
	if got := read(d, "mr-out-0"); got != string(first) {
		t.Fatalf("published file replaced: %q", got)
	}
	if _, ok := d.Read("t2"); ok {
		t.Fatalf("the losing attempt's temporary file was kept")
	}
	Apply(d, &FSReq{Op: OpWriteAt, Name: "t3", Data: second[:2]})
	if r := Apply(d, &FSReq{Op: OpRename, Name: "t3", To: "mr-out-1", Off: len(second), Sum: crc32.ChecksumIEEE(second)}); !r.Missing {
		t.Fatalf("rename of a cut-short file: %+v, want Missing", r)
	}
	if _, ok := d.Read("mr-out-1"); ok {
		t.Fatalf("a cut-short file was published")
	}
}

// TestFSCrashKeepsOnlySyncedFiles: writes are volatile until a rename
// publishes (and syncs); a crash of the FS node loses the unsynced
// temporary file but keeps the published one, and the restarted node serves
// it.
func TestFSCrashKeepsOnlySyncedFiles(t *testing.T) {
	w := sim.NewWorld(1, sim.Options{})
	id := w.AddNode("fs", func() sim.Node { return &FS{} })
	d := w.Disk(id)
	pub := []byte("k\t1\n")
	Apply(d, &FSReq{Op: OpWriteAt, Name: "t1", Data: pub})
	Apply(d, &FSReq{Op: OpRename, Name: "t1", To: "mr-0-0", Off: len(pub), Sum: crc32.ChecksumIEEE(pub)})
	Apply(d, &FSReq{Op: OpWriteAt, Name: "t2", Data: []byte("unsynced")})
	w.Crash(id)
	w.Restart(id)
	if got := read(d, "mr-0-0"); got != string(pub) {
		t.Fatalf("published file after a crash: %q", got)
	}
	if _, ok := d.Read("t2"); ok {
		t.Fatalf("an unsynced write survived a crash")
	}
	Apply(d, &FSReq{Op: OpWriteAt, Name: "t3", Data: []byte("x")})
	Apply(d, &FSReq{Op: OpSync})
	w.Crash(id)
	w.Restart(id)
	if got := read(d, "t3"); got != "x" {
		t.Fatalf("a synced write was lost: %q", got)
	}
}

// TestFSBadRequests: malformed requests are refused, not applied.
func TestFSBadRequests(t *testing.T) {
	d := disk(t)
	for _, r := range []*FSReq{{Op: OpWriteAt, Name: "f", Off: -1}, {Op: OpWriteAt}, {Op: OpCreate},
		{Op: OpRename, Name: "a", To: "a"}, {Op: OpRename, Name: "a"}, {Op: 99}} {
		if rep := Apply(d, r); rep.OK {
			t.Errorf("%+v accepted", r)
		}
	}
	if n := len(d.List()); n != 0 {
		t.Fatalf("bad requests created %d files", n)
	}
}

func TestFSListReadDelete(t *testing.T) {
	d := disk(t)
	for _, n := range []string{"mr-1-0", "mr-0-0", "pg-a.txt"} {
		Apply(d, &FSReq{Op: OpCreate, Name: n, Data: []byte(n)})
	}
	r := Apply(d, &FSReq{Op: OpList, Name: "mr-"})
	if len(r.Names) != 2 || r.Names[0] != "mr-0-0" {
		t.Fatalf("list: %v", r.Names)
	}
	Apply(d, &FSReq{Op: OpDelete, Name: "mr-0-0"})
	Apply(d, &FSReq{Op: OpDelete, Name: "mr-0-0"})
	if r := Apply(d, &FSReq{Op: OpRead, Name: "mr-0-0"}); !r.Missing {
		t.Fatalf("deleted file still readable: %+v", r)
	}
}

func TestIntermediateNames(t *testing.T) {
	for name, want := range map[string]bool{"mr-3-7": true, "mr-3-8": false, "mr-out-7": false,
		"mr-tmp-w0.0-7": false, "mr-worker-map-w0.0": false, "mr-x-7": false} {
		if intermediate(name, 7) != want {
			t.Errorf("intermediate(%q, 7) = %v", name, !want)
		}
	}
}

func TestIHashMatchesLab(t *testing.T) {
	// FNV-1a 32 of "a" is 0xe40c292c; masked to 31 bits.
	if got := IHash("a"); got != 0x640c292c {
		t.Fatalf("IHash(a) = %#x", got)
	}
}
