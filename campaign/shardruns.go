package campaign

import (
	"fmt"
	"strconv"
)

// ShardRuns names sorted shard indexes (SeedRange.Shards) as runs of
// consecutive ones, "0-2" and "5": at most max runs, and more reports that
// some were left out. The report page and the CLI summary both list the
// shards a merged range holds with it, each with its own tail.
func ShardRuns(have []int, max int) (runs []string, more bool) {
	for i := 0; i < len(have); {
		j := i
		for j+1 < len(have) && have[j+1] == have[j]+1 {
			j++
		}
		if len(runs) == max {
			return runs, true
		}
		if i == j {
			runs = append(runs, strconv.Itoa(have[i]))
		} else {
			runs = append(runs, fmt.Sprintf("%d-%d", have[i], have[j]))
		}
		i = j + 1
	}
	return runs, false
}
