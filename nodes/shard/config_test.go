package shard

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/smilingraft/dsim/sim"
	"pgregory.net/rapid"
)

// checkStep reports why next is not a correct rebalance of old: not Num+1,
// unbalanced, a shard on a gid outside next's groups, or more shards moved
// than the lower bound MinMoves.
func checkStep(old, next Config) error {
	if next.Num != old.Num+1 {
		return fmt.Errorf("num %d after %d", next.Num, old.Num)
	}
	if err := next.Check(); err != nil {
		return err
	}
	if moved, min := len(Moves(old, next)), MinMoves(old, next.Groups); moved != min {
		return fmt.Errorf("%d shards moved, lower bound %d (%v -> %v)", moved, min, old.Shards, next.Shards)
	}
	return nil
}

// servers gives gid g three distinct server ids.
func servers(g GID) []sim.NodeID {
	b := sim.NodeID(g) * 10
	return []sim.NodeID{b, b + 1, b + 2}
}

// The lab's shardcfg TestBasic: join 1, join 2, leave 1, leave 2.
func TestConfigLabBasic(t *testing.T) {
	c := Initial(0)
	if c.NShards() != 12 {
		t.Fatalf("NShards %d", c.NShards())
	}
	steps := []func(Config) (Config, error){
		func(c Config) (Config, error) { return c.Join(map[GID][]sim.NodeID{1: servers(1)}) },
		func(c Config) (Config, error) { return c.Join(map[GID][]sim.NodeID{2: servers(2)}) },
		func(c Config) (Config, error) { return c.Leave(1) },
		func(c Config) (Config, error) { return c.Leave(2) },
	}
	for i, st := range steps {
		n, err := st(c)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if err := checkStep(c, n); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		c = n
	}
	if c.Num != 4 || c.IsMember(1) || c.IsMember(2) || c.Shards[0] != 0 {
		t.Fatalf("final %v", c)
	}
	if _, err := c.Leave(7); err == nil {
		t.Error("leave of an absent gid accepted")
	}
	c1, _ := Initial(0).Join(map[GID][]sim.NodeID{1: servers(1)})
	if _, err := c1.Join(map[GID][]sim.NodeID{1: servers(1)}); err == nil {
		t.Error("join of a present gid accepted")
	}
	if _, err := c1.Join(map[GID][]sim.NodeID{2: {11}}); err == nil {
		t.Error("server in two groups accepted")
	}
	if _, err := c1.Join(map[GID][]sim.NodeID{0: {99}}); err == nil {
		t.Error("gid 0 accepted")
	}
	if d := cmp.Diff(servers(1), c1.Groups[1]); d != "" {
		t.Errorf("server order changed: %s", d)
	}
}

// Key2Shard is the lab's FNV-1a mod 12.
func TestKey2Shard(t *testing.T) {
	// FNV-1a 32 of "" is 2166136261 = 0x811c9dc5; mod 12 = 1.
	if got := Key2Shard("", 12); got != int(uint32(2166136261)%12) {
		t.Errorf("Key2Shard(\"\") = %d", got)
	}
	seen := map[int]bool{}
	for i := 0; i < 60; i++ {
		seen[Key2Shard(fmt.Sprintf("k%d", i), 12)] = true
	}
	if len(seen) < 10 {
		t.Errorf("60 keys hit only %d of 12 shards", len(seen))
	}
}

// op is one drawn step of a join/leave sequence.
type op struct {
	join  []GID // join these (fresh gids)
	leave []GID
}

// apply runs a sequence from Initial(n) and returns every configuration.
func applySeq(n int, ops []op) ([]Config, error) {
	c := Initial(n)
	out := []Config{c}
	for _, o := range ops {
		var next Config
		var err error
		if o.join != nil {
			m := map[GID][]sim.NodeID{}
			for _, g := range o.join {
				m[g] = servers(g)
			}
			next, err = c.Join(m)
		} else {
			next, err = c.Leave(o.leave...)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, next)
		c = next
	}
	return out, nil
}

// Random join/leave sequences over 1..40 shards: every step is balanced,
// moves exactly the lower bound of shards, round-trips through the
// encoding, and the same sequence gives the same configurations byte for
// byte (joins of several groups at once go through Go's randomized map
// order, so map-order dependence would show).
func TestRapidRebalance(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 40).Draw(rt, "nshards")
		steps := rapid.IntRange(1, 30).Draw(rt, "steps")
		var ops []op
		present := map[GID]bool{}
		next := GID(1)
		for i := 0; i < steps; i++ {
			var live []GID
			for g := GID(1); g < next; g++ {
				if present[g] {
					live = append(live, g)
				}
			}
			if len(live) > 0 && rapid.Bool().Draw(rt, "leave?") {
				k := rapid.IntRange(1, len(live)).Draw(rt, "nleave")
				perm := rapid.Permutation(live).Draw(rt, "perm")
				ops = append(ops, op{leave: perm[:k]})
				for _, g := range perm[:k] {
					delete(present, g)
				}
				continue
			}
			k := rapid.IntRange(1, 4).Draw(rt, "njoin")
			var js []GID
			for j := 0; j < k; j++ {
				js = append(js, next)
				present[next] = true
				next++
			}
			ops = append(ops, op{join: js})
		}
		a, err := applySeq(n, ops)
		if err != nil {
			rt.Fatal(err)
		}
		for i := 1; i < len(a); i++ {
			if err := checkStep(a[i-1], a[i]); err != nil {
				rt.Fatalf("step %d: %v", i, err)
			}
			d, err := DecodeConfig(a[i].Encode())
			if err != nil {
				rt.Fatalf("step %d: decode: %v", i, err)
			}
			if diff := cmp.Diff(a[i], d); diff != "" {
				rt.Fatalf("step %d: round trip (-want +got)\n%s", i, diff)
			}
		}
		b, _ := applySeq(n, ops)
		for i := range a {
			if !bytes.Equal(a[i].Encode(), b[i].Encode()) {
				rt.Fatalf("step %d: same sequence, different configs:\n%v\n%v", i, a[i], b[i])
			}
		}
	})
}

// checkStep must catch a rebalance that is balanced but moves too much
// (round-robin from scratch), and an unbalanced one.
func TestCheckStepCatchesBadRebalance(t *testing.T) {
	c, _ := Initial(0).Join(map[GID][]sim.NodeID{1: servers(1), 2: servers(2), 3: servers(3)})
	next := c.Copy()
	next.Num++
	next.Groups[4] = servers(4)
	for s := range next.Shards { // naive: deal all shards again
		next.Shards[s] = GID(1 + (s+1)%4)
	}
	if err := next.Check(); err != nil {
		t.Fatalf("naive rebalance should be balanced: %v", err)
	}
	if err := checkStep(c, next); err == nil {
		t.Error("a rebalance that moves every shard passed the minimal-movement check")
	}
	lop := c.Copy()
	lop.Num++
	for s := range lop.Shards {
		lop.Shards[s] = 1
	}
	if err := checkStep(c, lop); err == nil {
		t.Error("an unbalanced configuration passed")
	}
}

// Malformed encodings are errors, never panics: every truncation, random
// flips, random bytes, and hand-made bad structures.
func TestDecodeConfigMalformed(t *testing.T) {
	good, _ := Initial(0).Join(map[GID][]sim.NodeID{1: servers(1), 2: servers(2)})
	enc := good.Encode()
	for i := 0; i < len(enc); i++ {
		if _, err := DecodeConfig(enc[:i]); err == nil {
			t.Errorf("truncation at %d accepted", i)
		}
	}
	if _, err := DecodeConfig(append(append([]byte(nil), enc...), 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	r := sim.NewRand(9)
	for i := 0; i < 20000; i++ {
		b := append([]byte(nil), enc...)
		if i%2 == 0 {
			for j := 0; j < 1+r.Intn(3); j++ {
				b[r.Intn(len(b))] ^= byte(1 + r.Intn(255))
			}
		} else {
			b = make([]byte, r.Intn(30))
			for j := range b {
				b[j] = byte(r.Intn(256))
			}
		}
		if c, err := DecodeConfig(b); err == nil {
			if c.validate() != nil {
				t.Fatalf("decoded an invalid config from %x", b)
			}
		}
	}
	bad := good.Copy()
	bad.Shards[3] = 9
	if _, err := DecodeConfig(bad.Encode()); err == nil {
		t.Error("shard on an unknown gid accepted")
	}
	bad = good.Copy()
	bad.Groups[2] = []sim.NodeID{10}
	if _, err := DecodeConfig(bad.Encode()); err == nil {
		t.Error("server in two groups accepted")
	}
}

// configNum reads what DecodeConfig reads as Num, and fails whenever the
// number cannot be read (so DecodeConfig fails too).
func TestConfigNum(t *testing.T) {
	c, err := Initial(0).Join(map[GID][]sim.NodeID{1: {0, 1, 2}, 2: {3, 4, 5}})
	if err != nil {
		t.Fatal(err)
	}
	c.Num = 1 << 40
	enc := c.Encode()
	for n := 0; n <= len(enc); n++ {
		num, ok := configNum(string(enc[:n]))
		d, derr := DecodeConfig(enc[:n])
		if derr == nil && (!ok || num != d.Num) {
			t.Fatalf("%d bytes: configNum %d, %v; DecodeConfig Num %d", n, num, ok, d.Num)
		}
		if ok != (n >= len(configMagic)+6) {
			t.Fatalf("%d bytes: configNum ok %v", n, ok)
		}
		if ok && num != c.Num {
			t.Fatalf("%d bytes: configNum %d, want %d", n, num, c.Num)
		}
	}
	if _, ok := configNum("XX1" + string(enc[3:])); ok {
		t.Fatal("bad magic read")
	}
}

// validate finds a server in two groups, and names the same groups, both
// with a few servers (scanned) and with more than its array holds (a map).
func TestValidateDuplicateServer(t *testing.T) {
	for _, per := range []int{3, 20} {
		groups := map[GID][]sim.NodeID{}
		for g := 1; g <= 3; g++ {
			for i := 0; i < per; i++ {
				groups[GID(g)] = append(groups[GID(g)], sim.NodeID(g*100+i))
			}
		}
		groups[3][per-1] = groups[2][1]
		c := Config{Shards: make([]GID, 12), Groups: groups}
		want := fmt.Sprintf("server %d in groups 2 and 3", groups[2][1])
		if err := c.validate(); err == nil || err.Error() != want {
			t.Errorf("%d servers per group: validate = %v, want %q", per, err, want)
		}
		groups[3][per-1] = 999
		if err := c.validate(); err != nil {
			t.Errorf("%d servers per group, all distinct: %v", per, err)
		}
	}
}

// Key2Shard is the lab's function: FNV-1a (32 bits) of the key mod nshards.
func TestKey2ShardIsFNV(t *testing.T) {
	for _, n := range []int{1, 7, DefaultNShards, 64} {
		for _, k := range []string{"", "k0", "w1.3", "shardctrl/cur", string([]byte{0, 0xff, 0x80})} {
			h := fnv.New32a()
			h.Write([]byte(k))
			if got, want := Key2Shard(k, n), int(h.Sum32()%uint32(n)); got != want {
				t.Errorf("Key2Shard(%q, %d) = %d, want %d", k, n, got, want)
			}
		}
	}
}
