package kv

import (
	"reflect"
	"testing"
)

// Operations started while one runs wait and run in start order, each only
// after the previous one called Done.
func TestSerialRunsOneAtATimeInOrder(t *testing.T) {
	var s Serial
	var log []string
	var finish []func()
	for _, name := range []string{"a", "b", "c"} {
		name := name
		s.Run(func() { log = append(log, name); finish = append(finish, s.Done) })
	}
	if !reflect.DeepEqual(log, []string{"a"}) {
		t.Fatalf("started %v before a finished", log)
	}
	finish[0]()
	finish[1]()
	if !reflect.DeepEqual(log, []string{"a", "b", "c"}) {
		t.Fatalf("ran %v", log)
	}
	finish[2]()
	s.Run(func() { log = append(log, "d") })
	if log[len(log)-1] != "d" {
		t.Fatalf("an idle Serial did not start d at once: %v", log)
	}
}
