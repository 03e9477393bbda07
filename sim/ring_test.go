package sim

import "testing"

// In a majorities ring every node hears a majority (itself included) and,
// from 5 nodes on, not everyone: the old reach of n/4 left each node of a
// 6- or 7-node ring with 3, a minority.
func TestRingCutsLeaveEveryNodeAMajority(t *testing.T) {
	for n := 3; n <= 15; n++ {
		perm := make([]int, n)
		for i := range perm {
			perm[i] = (i * 7) % n // any order
		}
		if n%7 == 0 {
			for i := range perm {
				perm[i] = n - 1 - i
			}
		}
		hears := make([]int, n)
		for i := range hears {
			hears[i] = n // everyone, itself included, until cut
		}
		for _, c := range RingCuts(perm) {
			hears[c[1]]--
		}
		for node, h := range hears {
			if h < n/2+1 {
				t.Errorf("n=%d: node %d hears %d of %d, not a majority", n, node, h, n)
			}
			if n >= 5 && h == n {
				t.Errorf("n=%d: node %d hears everyone: no ring", n, node)
			}
		}
	}
}
