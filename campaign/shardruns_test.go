package campaign

import (
	"reflect"
	"testing"
)

func TestShardRuns(t *testing.T) {
	for _, c := range []struct {
		have []int
		max  int
		runs []string
		more bool
	}{
		{nil, 20, nil, false},
		{[]int{4}, 20, []string{"4"}, false},
		{[]int{0, 1, 2, 5, 7, 8}, 20, []string{"0-2", "5", "7-8"}, false},
		{[]int{0, 1, 2, 5, 7, 8}, 3, []string{"0-2", "5", "7-8"}, false},
		{[]int{0, 1, 2, 5, 7, 8}, 2, []string{"0-2", "5"}, true},
		{[]int{0, 2, 4}, 0, nil, true},
	} {
		runs, more := ShardRuns(c.have, c.max)
		if !reflect.DeepEqual(runs, c.runs) || more != c.more {
			t.Errorf("ShardRuns(%v, %d) = %q, %v; want %q, %v", c.have, c.max, runs, more, c.runs, c.more)
		}
	}
}
