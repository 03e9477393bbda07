package kvcheck

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// at gives an op its place in a (hand-made) run: its history id and the
// events of its invoke and return.
func at(o Op, id int, callEv, retEv uint64) Op {
	o.ID, o.CallEvent, o.ReturnEvent = id, callEv, retEv
	return o
}

// A hand-made history that breaks at a stale read in the middle of the
// run, with a linearizable key beside it and more operations after the
// break: the evidence names the prefix before the stale read, the stale
// read as the culprit with its own events, and only the broken key.
func TestEvidenceNamesTheFirstOperationThatCannotBeLinearized(t *testing.T) {
	ops := []Op{
		at(put(0, "k", "a", 0, OK, 0, 10), 0, 1, 3),
		at(put(2, "x", "z", 0, OK, 5, 15), 1, 2, 4),
		at(put(0, "k", "b", 1, OK, 20, 30), 2, 5, 7),
		at(get(1, "k", "a", 1, OK, 40, 50), 3, 8, 9), // stale: b@v2 was acknowledged at 30
		at(get(2, "x", "z", 1, OK, 45, 55), 4, 10, 11),
		at(put(0, "k", "c", 2, OK, 60, 70), 5, 12, 13),
		at(get(1, "k", "c", 3, OK, 80, 90), 6, 14, 15),
	}
	res := Check(ops, Options{NoPicture: true})
	if res.Outcome != Illegal {
		t.Fatalf("outcome %s, want illegal", res.Outcome)
	}
	want := []Evidence{{Key: "k", Prefix: []Op{ops[0], ops[2]}, Culprit: ops[3]}}
	if d := cmp.Diff(want, res.Evidence); d != "" {
		t.Fatalf("evidence (-want +got):\n%s", d)
	}
	if c := res.Evidence[0].Culprit; c.ReturnEvent != 9 || c.Return != 50 || c.ID != 3 {
		t.Fatalf("culprit located at id %d, return %d (event %d); want id 3, return 50 (event 9)", c.ID, c.Return, c.ReturnEvent)
	}
	// The picture is still drawn from the same check.
	if res := Check(ops, Options{}); len(res.HTML) == 0 || len(res.Evidence) != 1 {
		t.Fatalf("with a picture: %d bytes, %d keys of evidence", len(res.HTML), len(res.Evidence))
	}
}

// Two broken keys: the one whose culprit returns first comes first, and a
// linearizable history has no evidence.
func TestEvidenceOrdersKeysByCulprit(t *testing.T) {
	ops := []Op{
		at(put(0, "late", "a", 0, OK, 0, 10), 0, 1, 2),
		at(get(1, "late", "", 0, ErrNoKey, 100, 110), 1, 9, 10),
		at(put(0, "early", "a", 0, OK, 0, 10), 2, 1, 2),
		at(get(1, "early", "b", 1, OK, 20, 30), 3, 3, 4),
	}
	res := Check(ops, Options{NoPicture: true})
	if len(res.Evidence) != 2 || res.Evidence[0].Key != "early" || res.Evidence[1].Key != "late" {
		t.Fatalf("evidence %+v, want keys early then late", res.Evidence)
	}
	if c := res.Evidence[0].Culprit; c.ID != 3 || len(res.Evidence[0].Prefix) != 1 {
		t.Fatalf("early: culprit %+v after %d ops", c, len(res.Evidence[0].Prefix))
	}
	ok := Check(ops[:1], Options{NoPicture: true})
	if ok.Outcome != Ok || ok.Evidence != nil {
		t.Fatalf("linearizable history: %s with evidence %+v", ok.Outcome, ok.Evidence)
	}
}
