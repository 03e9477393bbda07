package shardcheck

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/smilingraft/dsim/checkers/kvcheck"
)

type failures struct{ got []string }

func (f *failures) fail(checker, format string, args ...any) {
	f.got = append(f.got, checker+": "+fmt.Sprintf(format, args...))
}

func newOwn() (*Ownership, *failures) {
	f := &failures{}
	return NewOwnership(f.fail, func() int64 { return 7 }), f
}

// A correct move (freeze at the old group, then install at the new, then
// delete at the old) passes; replays by lagging and restoring replicas
// change nothing.
func TestOwnershipMoveOK(t *testing.T) {
	o, f := newOwn()
	o.Report("g1", 1, 3, true, true)  // installed at g1
	o.Report("g1", 5, 3, true, false) // frozen at g1
	o.Report("g1", 2, 3, true, true)  // a lagging replica replays index 2: ignored
	o.Report("g1", 0, 3, true, true)  // a replica restoring its snapshot: ignored
	o.Report("g2", 4, 3, true, true)  // installed at g2
	o.Report("g1", 6, 3, false, false)
	if len(f.got) != 0 {
		t.Fatalf("false alarm: %v", f.got)
	}
	if diff := cmp.Diff([]string{"g2"}, o.Accepting(3)); diff != "" {
		t.Errorf("accepting (-want +got):\n%s", diff)
	}
	if err := o.Served([]string{"", "", "", "g2"}[3:]); err == nil {
		t.Errorf("Served of a wrong assignment passed")
	}
	if err := o.DeletedCheck(append(make([]string, 3), "g2")); err != nil {
		t.Errorf("DeletedCheck: %v", err)
	}
}

// Two groups accepting writes for one shard at once (the install at the new
// group before the old froze it, as a broken controller or a group serving
// frozen shards does) fails online, once.
func TestOwnershipCatchesDoubleServing(t *testing.T) {
	o, f := newOwn()
	o.Report("g1", 1, 0, true, true)
	o.Report("g2", 9, 0, true, true)
	o.Report("g3", 9, 0, true, true)
	if len(f.got) != 1 || !strings.HasPrefix(f.got[0], SingleOwnership+": ") || !strings.Contains(f.got[0], "shard 0") {
		t.Fatalf("want one single-ownership failure, got %v", f.got)
	}
	if o.Violations != 2 {
		t.Errorf("violations %d, want 2", o.Violations)
	}
}

// A frozen shard that still accepts writes (UnsafeServeFrozen reports
// accepts=true while frozen) conflicts with its new owner.
func TestOwnershipCatchesServeFrozen(t *testing.T) {
	o, f := newOwn()
	o.Report("g1", 1, 2, true, true)
	o.Report("g1", 2, 2, true, true) // frozen but serving
	o.Report("g2", 3, 2, true, true)
	if len(f.got) != 1 {
		t.Fatalf("want a failure, got %v", f.got)
	}
}

// A group that keeps a moved shard fails deleted-means-deleted; Forget
// drops a replaced group.
func TestDeletedCatchesLeftover(t *testing.T) {
	o, _ := newOwn()
	o.Report("g1", 1, 0, true, true)
	o.Report("g1", 2, 1, true, true)
	o.Report("g1", 3, 1, true, false) // frozen, never deleted
	o.Report("g2", 1, 1, true, true)
	err := o.DeletedCheck([]string{"g1", "g2"})
	if err == nil || !strings.Contains(err.Error(), "[1]") {
		t.Fatalf("leftover shard 1 at g1 not caught: %v", err)
	}
	o.Forget("g1")
	if err := o.DeletedCheck([]string{"g1", "g2"}); err != nil {
		t.Errorf("after Forget: %v", err)
	}
}

// The snapshot size bound fails above base + slack.
func TestSizeBound(t *testing.T) {
	if err := SizeBound(map[string]int{"g1": 30_000, "g2": 40_000}, 62_000, 10_000); err != nil {
		t.Errorf("within bound: %v", err)
	}
	if err := SizeBound(map[string]int{"g1": 62_000, "g2": 40_000}, 62_000, 10_000); err == nil {
		t.Errorf("moved shards kept at the old group (102000 B > 72000 B) not caught")
	}
}

// A write acknowledged before a move and missing afterwards (the new group
// got the shard empty) is caught.
func TestDurableCatchesLostWrite(t *testing.T) {
	ops := []kvcheck.Op{{Client: 0, Put: true, Key: "a", Value: "x", Version: 0, Err: kvcheck.OK, Call: 1, Return: 2}}
	if err := Durable(ops, map[string]kvcheck.State{"a": {Value: "x", Version: 1}}); err != nil {
		t.Errorf("kept write: %v", err)
	}
	if err := Durable(ops, map[string]kvcheck.State{}); err == nil {
		t.Errorf("lost write not caught")
	}
}

// A controller call that never returns is overdue past the bound; one that
// returned is not.
func TestCallsOverdue(t *testing.T) {
	var c Calls
	done := c.Start("join 2", 100)
	stuck := c.Start("leave 3", 200)
	done()
	done() // twice: counted once
	if c.Returned != 1 || c.Pending() != 1 {
		t.Errorf("returned %d pending %d", c.Returned, c.Pending())
	}
	if err := c.Overdue(1000, 5000); err != nil {
		t.Errorf("within bound: %v", err)
	}
	err := c.Overdue(10_000, 5000)
	if err == nil || !strings.Contains(err.Error(), "leave 3") {
		t.Errorf("stuck call not reported: %v", err)
	}
	stuck()
	if err := c.Overdue(10_000, 5000); err != nil {
		t.Errorf("after return: %v", err)
	}
}
