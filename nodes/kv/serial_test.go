package kv

import (
	"slices"
	"testing"
)

// A Serializer starts one operation at a time, queued ones in the order
// they were run, and is idle again once the last one is done.
func TestSerializerRunsInOrderOneAtATime(t *testing.T) {
	var s Serializer[int]
	var started []int
	start := func(op int) { started = append(started, op) }
	s.Run(1, start)
	s.Run(2, start)
	s.Run(3, start)
	if !slices.Equal(started, []int{1}) {
		t.Fatalf("started %v with op 1 running, want [1]", started)
	}
	s.Done(start)
	s.Run(4, start)
	s.Done(start)
	if !slices.Equal(started, []int{1, 2, 3}) {
		t.Fatalf("started %v, want [1 2 3]", started)
	}
	s.Done(start)
	s.Done(start) // 4 done: idle
	s.Run(5, start)
	if !slices.Equal(started, []int{1, 2, 3, 4, 5}) {
		t.Fatalf("started %v, want [1 2 3 4 5]", started)
	}

	var fs Serial
	var ran []int
	for i := 1; i <= 2; i++ {
		fs.Run(func() { ran = append(ran, i) })
	}
	fs.Done()
	if !slices.Equal(ran, []int{1, 2}) {
		t.Fatalf("Serial ran %v, want [1 2]", ran)
	}
}
