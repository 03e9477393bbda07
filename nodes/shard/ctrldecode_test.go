package shard

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/smilingraft/dsim/sim"
)

// The controller's decode cache gives, for any bytes, what DecodeConfig
// gives: a hit only on bytes equal to one of the last two decoded, and
// the configuration decoded from those very bytes.
func TestCtrlDecodeCache(t *testing.T) {
	var raw []string
	c := Initial(4)
	for i := 1; i <= 3; i++ {
		var err error
		if c, err = c.Join(map[GID][]sim.NodeID{GID(i): {sim.NodeID(i)}}); err != nil {
			t.Fatal(err)
		}
		raw = append(raw, string(c.Encode()))
	}
	var ctrl Ctrl
	// a, b, a (a hit), c (evicts the older of a and b), a, b, b, c, a.
	for step, i := range []int{0, 1, 0, 2, 0, 1, 1, 2, 0} {
		got, err := ctrl.decode(raw[i])
		want, werr := DecodeConfig([]byte(raw[i]))
		if err != nil || werr != nil || !cmp.Equal(got, want) {
			t.Fatalf("step %d: decode(config %d) = %v, %v; want %v", step, i+1, got, err, want)
		}
	}
	if _, err := ctrl.decode("not a configuration"); err == nil {
		t.Fatal("decoded garbage")
	}
}
