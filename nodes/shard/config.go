package shard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/smilingraft/dsim/nodes/wire"
	"github.com/smilingraft/dsim/sim"
)

// DefaultNShards is the number of shards of the lab (NShards = 12).
const DefaultNShards = 12

// MaxShards bounds NShards (and what a decoder accepts): a limit on
// everything.
const MaxShards = 1 << 12

// MaxGroups bounds the groups of a configuration and MaxServers the servers
// of a group (decoders refuse more).
const (
	MaxGroups  = 1 << 10
	MaxServers = 64
)

// GID names a replica group. GID 0 is "no group": the owner of every shard
// of a configuration without groups (and the lab's gid of the kvsrv).
type GID uint64

// Config is one numbered configuration: which group owns each shard, and
// the servers of each group. len(Shards) is the number of shards (NShards),
// fixed for a deployment; Initial(n) picks it. Groups' server lists keep
// their order. Configs are values: Join and Leave return fresh copies.
type Config struct {
	Num    uint64
	Shards []GID
	Groups map[GID][]sim.NodeID
}

// Initial returns configuration 0 with n shards (n <= 0 means
// DefaultNShards), no groups and every shard on gid 0. The first Join makes
// configuration 1, as in the lab.
func Initial(n int) Config {
	if n <= 0 {
		n = DefaultNShards
	}
	return Config{Shards: make([]GID, n), Groups: map[GID][]sim.NodeID{}}
}

// NShards returns the configuration's number of shards.
func (c Config) NShards() int { return len(c.Shards) }

// Key2Shard maps a key to its shard: the 32-bit FNV-1a hash of the key mod
// nshards (the lab's function for nshards = 12).
func Key2Shard(key string, nshards int) int {
	if nshards <= 0 {
		nshards = DefaultNShards
	}
	// FNV-1a, 32 bits, written out: hash/fnv's through its interface
	// costs more than the loop (TestKey2ShardIsFNV holds them equal).
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(nshards))
}

// Shard returns key's shard in this configuration.
func (c Config) Shard(key string) int { return Key2Shard(key, len(c.Shards)) }

// Owner returns the gid owning key's shard and that group's servers.
func (c Config) Owner(key string) (GID, []sim.NodeID) {
	g := c.Shards[c.Shard(key)]
	return g, c.Groups[g]
}

// Copy returns a deep copy.
func (c Config) Copy() Config {
	d := Config{Num: c.Num, Shards: append([]GID(nil), c.Shards...), Groups: make(map[GID][]sim.NodeID, len(c.Groups))}
	for g, s := range c.Groups {
		d.Groups[g] = append([]sim.NodeID(nil), s...)
	}
	return d
}

// GIDs returns the configuration's groups, sorted.
func (c Config) GIDs() []GID {
	gs := make([]GID, 0, len(c.Groups))
	for g := range c.Groups {
		gs = append(gs, g)
	}
	slices.Sort(gs)
	return gs
}

// IsMember reports whether some shard maps to gid (the lab's IsMember).
func (c Config) IsMember(gid GID) bool {
	for _, g := range c.Shards {
		if g == gid {
			return true
		}
	}
	return false
}

// Counts returns how many shards each group of Groups owns (0 included).
func (c Config) Counts() map[GID]int {
	n := make(map[GID]int, len(c.Groups))
	for g := range c.Groups {
		n[g] = 0
	}
	for _, g := range c.Shards {
		if _, ok := c.Groups[g]; ok {
			n[g]++
		}
	}
	return n
}

// String prints the configuration compactly and deterministically.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cfg#%d shards=%v groups={", c.Num, c.Shards)
	for i, g := range c.GIDs() {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%d:%v", g, c.Groups[g])
	}
	b.WriteString("}")
	return b.String()
}

// Check reports why c is not a valid balanced configuration: a shard on a
// gid outside Groups (other than gid 0 when there are no groups), or the
// largest group more than one shard above the smallest (the lab's
// CheckConfig, without the expected group set).
func (c Config) Check() error {
	if err := c.validate(); err != nil {
		return err
	}
	if len(c.Groups) == 0 {
		for s, g := range c.Shards {
			if g != 0 {
				return fmt.Errorf("shard %d on gid %d with no groups", s, g)
			}
		}
		return nil
	}
	counts := c.Counts()
	for s, g := range c.Shards {
		if _, ok := c.Groups[g]; !ok {
			return fmt.Errorf("shard %d on gid %d, not a group", s, g)
		}
	}
	min, max := len(c.Shards)+1, -1
	for _, n := range counts {
		if n < min {
			min = n
		}
		if n > max {
			max = n
		}
	}
	if max > min+1 {
		return fmt.Errorf("unbalanced: max %d > min %d + 1", max, min)
	}
	return nil
}

// validate checks the structural limits (shard count, gid 0 not a group, no
// server in two groups, server lists bounded).
func (c Config) validate() error {
	if len(c.Shards) == 0 || len(c.Shards) > MaxShards {
		return fmt.Errorf("%d shards (1..%d)", len(c.Shards), MaxShards)
	}
	if len(c.Groups) > MaxGroups {
		return fmt.Errorf("%d groups (max %d)", len(c.Groups), MaxGroups)
	}
	// The servers seen so far and their groups: in a small array scanned
	// whole while they fit (a deployment's usual handful), else a map.
	type member struct {
		s sim.NodeID
		g GID
	}
	var small [32]member
	few := small[:0]
	var many map[sim.NodeID]GID
	for _, g := range c.GIDs() {
		if g == 0 {
			return errors.New("gid 0 cannot be a group")
		}
		srv := c.Groups[g]
		if len(srv) == 0 || len(srv) > MaxServers {
			return fmt.Errorf("group %d has %d servers (1..%d)", g, len(srv), MaxServers)
		}
		for _, s := range srv {
			if s < 0 {
				return fmt.Errorf("group %d: server id %d", g, s)
			}
			if many == nil {
				for _, m := range few {
					if m.s == s {
						return fmt.Errorf("server %d in groups %d and %d", s, m.g, g)
					}
				}
				if len(few) < len(small) {
					few = append(few, member{s, g})
					continue
				}
				many = make(map[sim.NodeID]GID, 2*len(few))
				for _, m := range few {
					many[m.s] = m.g
				}
			}
			if o, ok := many[s]; ok {
				return fmt.Errorf("server %d in groups %d and %d", s, o, g)
			}
			many[s] = g
		}
	}
	return nil
}

// Join returns the next configuration (Num+1) with the given groups added
// and the shards rebalanced. It refuses gid 0, a gid already present, an
// empty server list and a server already in another group (the lab's
// process dies there; node code returns an error).
func (c Config) Join(groups map[GID][]sim.NodeID) (Config, error) {
	d := c.Copy()
	gs := make([]GID, 0, len(groups))
	for g := range groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i] < gs[j] })
	for _, g := range gs {
		if _, ok := d.Groups[g]; ok {
			return c, fmt.Errorf("join: gid %d already present", g)
		}
		d.Groups[g] = append([]sim.NodeID(nil), groups[g]...)
	}
	if err := d.validate(); err != nil {
		return c, fmt.Errorf("join: %w", err)
	}
	d.Num++
	d.Rebalance()
	return d, nil
}

// Leave returns the next configuration (Num+1) without the given groups,
// their shards moved to the others. It refuses a gid that is not present.
func (c Config) Leave(gids ...GID) (Config, error) {
	d := c.Copy()
	for _, g := range gids {
		if _, ok := d.Groups[g]; !ok {
			return c, fmt.Errorf("leave: gid %d not present", g)
		}
		delete(d.Groups, g)
	}
	d.Num++
	d.Rebalance()
	return d, nil
}

// Rebalance reassigns shards in place so that every shard is on a group of
// Groups and the largest group holds at most one shard more than the
// smallest, moving as few shards as possible. It is deterministic (groups
// sorted, never map order):
//
//   - with no groups every shard goes to gid 0;
//   - with k groups each gets floor(N/k) shards, and the N mod k groups that
//     already hold the most (lowest gid on ties) get one more: this target
//     keeps the most shards in place;
//   - a group above its target gives up its highest-numbered shards; those
//     and the shards of departed groups go, lowest shard first, to the groups
//     below target, lowest gid first.
//
// The number of shards that change owner is then exactly the lower bound
// N - sum(min(held, target)) (the property test checks this). It differs
// from the lab's greedy Rebalance in which shards move, not in how many.
func (c *Config) Rebalance() {
	gids := c.GIDs()
	if len(gids) == 0 {
		for s := range c.Shards {
			c.Shards[s] = 0
		}
		return
	}
	target := Targets(*c)
	count := map[GID]int{}
	var free []int
	for s, g := range c.Shards {
		if _, ok := c.Groups[g]; ok {
			count[g]++
		} else {
			free = append(free, s)
		}
	}
	for s := len(c.Shards) - 1; s >= 0; s-- { // highest-numbered shards leave first
		g := c.Shards[s]
		if _, ok := c.Groups[g]; ok && count[g] > target[g] {
			count[g]--
			free = append(free, s)
		}
	}
	sort.Ints(free)
	i := 0
	for _, g := range gids {
		for count[g] < target[g] && i < len(free) {
			c.Shards[free[i]] = g
			count[g]++
			i++
		}
	}
}

// Targets returns the balanced shard count per group that keeps the most
// shards of c in place: floor(N/k) each, plus one for the N mod k groups
// holding the most shards now (lowest gid on ties).
func Targets(c Config) map[GID]int {
	gids := c.GIDs()
	k := len(gids)
	t := map[GID]int{}
	if k == 0 {
		return t
	}
	counts := c.Counts()
	order := append([]GID(nil), gids...)
	sort.SliceStable(order, func(i, j int) bool { return counts[order[i]] > counts[order[j]] })
	base, extra := len(c.Shards)/k, len(c.Shards)%k
	for i, g := range order {
		t[g] = base
		if i < extra {
			t[g]++
		}
	}
	return t
}

// MinMoves returns the fewest shards that must change owner to go from
// old's assignment to any balanced assignment over next's groups (next's
// Shards are ignored): N - sum over next's groups of min(held in old,
// target), with targets as in Targets. Shards on gid 0 or a departed group
// always move.
func MinMoves(old Config, groups map[GID][]sim.NodeID) int {
	probe := Config{Shards: old.Shards, Groups: groups}
	t := Targets(probe)
	counts := probe.Counts()
	kept := 0
	for g, n := range counts {
		if n < t[g] {
			kept += n
		} else {
			kept += t[g]
		}
	}
	return len(old.Shards) - kept
}

// Moves returns the shards whose owner differs between a and b, ascending.
func Moves(a, b Config) []int {
	var out []int
	for s := range a.Shards {
		if s < len(b.Shards) && a.Shards[s] != b.Shards[s] {
			out = append(out, s)
		}
	}
	return out
}

// configMagic starts every encoded configuration (format tag and version).
const configMagic = "SC1"

// Encode returns the configuration's compact binary form: Num, the shard
// count and each shard's gid, then the groups sorted by gid with their
// server lists in order. Equal configurations encode to equal bytes.
func (c Config) Encode() []byte {
	b := make([]byte, 0, 8+len(c.Shards)*2+len(c.Groups)*8)
	b = append(b, configMagic...)
	b = binary.AppendUvarint(b, c.Num)
	b = binary.AppendUvarint(b, uint64(len(c.Shards)))
	for _, g := range c.Shards {
		b = binary.AppendUvarint(b, uint64(g))
	}
	gids := c.GIDs()
	b = binary.AppendUvarint(b, uint64(len(gids)))
	for _, g := range gids {
		b = binary.AppendUvarint(b, uint64(g))
		b = binary.AppendUvarint(b, uint64(len(c.Groups[g])))
		for _, s := range c.Groups[g] {
			b = binary.AppendUvarint(b, uint64(s))
		}
	}
	return b
}

// configNum reads the Num of an encoded configuration without decoding
// the rest (ok false if it has no magic or no readable Num).
func configNum(data string) (num uint64, ok bool) {
	if len(data) < len(configMagic) || data[:len(configMagic)] != configMagic {
		return 0, false
	}
	var b [binary.MaxVarintLen64]byte
	v, n := binary.Uvarint(b[:copy(b[:], data[len(configMagic):])])
	return v, n > 0
}

// DecodeConfig decodes Encode's bytes. Anything else (truncated, trailing
// bytes, counts over the limits, unsorted or duplicate gids, a shard on an
// unknown gid, a server in two groups) is an error, never a panic.
func DecodeConfig(data []byte) (Config, error) {
	if len(data) < len(configMagic) || string(data[:len(configMagic)]) != configMagic {
		return Config{}, errors.New("config: bad magic")
	}
	d := wire.NewDecoder(data[len(configMagic):])
	c := Config{Num: d.Uvarint(), Groups: map[GID][]sim.NodeID{}}
	n := d.Uvarint()
	if d.Err() == nil && (n == 0 || n > MaxShards || n > uint64(d.Len())) {
		d.Fail(fmt.Errorf("%d shards", n))
	}
	if d.Err() == nil {
		c.Shards = make([]GID, n)
	}
	for i := range c.Shards {
		c.Shards[i] = GID(d.Uvarint())
	}
	ng := d.Uvarint()
	if d.Err() == nil && (ng > MaxGroups || ng > uint64(d.Len())) {
		d.Fail(fmt.Errorf("%d groups", ng))
	}
	prev := GID(0)
	for i := uint64(0); i < ng && d.Err() == nil; i++ {
		g := GID(d.Uvarint())
		ns := d.Uvarint()
		if d.Err() == nil && (g <= prev || ns == 0 || ns > MaxServers || ns > uint64(d.Len())) {
			d.Fail(fmt.Errorf("group %d (after %d) with %d servers", g, prev, ns))
		}
		prev = g
		var srv []sim.NodeID
		if d.Err() == nil {
			srv = make([]sim.NodeID, 0, ns)
		}
		for j := uint64(0); j < ns && d.Err() == nil; j++ {
			v := d.Uvarint()
			if v > 1<<31-1 {
				d.Fail(fmt.Errorf("server id %d", v))
			}
			srv = append(srv, sim.NodeID(v))
		}
		c.Groups[g] = srv
	}
	if err := d.Done(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := c.validate(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	for s, g := range c.Shards {
		if _, ok := c.Groups[g]; !ok && g != 0 {
			return Config{}, fmt.Errorf("config: shard %d on unknown gid %d", s, g)
		}
	}
	return c, nil
}
