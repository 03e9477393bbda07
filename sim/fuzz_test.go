package sim

import (
	"encoding/binary"
	"fmt"
	"testing"
)

var fuzzKinds = []string{ActLinks, ActIsolate, ActFlaky, ActClog, ActHeal, ActCrash, ActRestart,
	ActPause, ActResume, ActWipe, ActCorrupt, ActDrift, ActJump, ActNet}

// decodePlan turns arbitrary bytes into a valid plan over n targets: 8 bytes
// of seed, then 6 bytes per action. Every byte string decodes, so the fuzzer
// explores plans rather than parse errors.
func decodePlan(data []byte, n int) (uint64, Plan) {
	var seed uint64
	if len(data) >= 8 {
		seed = binary.LittleEndian.Uint64(data)
		data = data[8:]
	}
	var p Plan
	for len(data) >= 6 && len(p) < 64 {
		b := data[:6]
		data = data[6:]
		a := Action{
			ID:   len(p) + 1,
			At:   Duration(binary.LittleEndian.Uint16(b[0:])) * Millisecond / 16,
			Kind: fuzzKinds[int(b[2])%len(fuzzKinds)],
			Node: int(b[3]) % n,
			Peer: int(b[4]) % n,
		}
		switch a.Kind {
		case ActLinks:
			a.Cuts = [][2]int{{a.Node, a.Peer}, {int(b[5]) % n, a.Node}}
		case ActFlaky:
			a.Ratio = R(uint32(b[5]%101), 100)
		case ActClog:
			a.Delay, a.For = Duration(b[5])*Millisecond, Duration(b[5])*10*Millisecond
		case ActDrift:
			a.PPM = (int64(b[5]) - 128) * 7000
		case ActJump:
			a.Delay = (Duration(b[5]) - 128) * 10 * Millisecond
		case ActNet:
			a.Net = &NetOptions{DelayMax: Duration(b[5]) * Millisecond, Loss: R(uint32(b[5]%50), 100), Dup: R(uint32(b[5]%20), 100), Reorder: R(1, 2)}
		case ActRestart, ActResume, ActCorrupt:
			if b[5]%2 == 0 && len(p) > 0 {
				a.Ref = int(b[5]) % len(p)
				if a.Ref == 0 {
					a.Ref = 1
				}
			}
		case ActCrash, ActPause, ActIsolate:
			a.Leader = b[5]%3 == 0
		}
		p = append(p, a)
	}
	p.Sort()
	return seed, p
}

// runPlan runs the 5-node gossip world under plan and returns its hash and
// failure (nil if none).
func runPlan(seed uint64, plan Plan) (uint64, *Failure) {
	w := NewWorld(seed, Options{MaxEvents: 200_000, Disk: DiskOptions{Torn: R(1, 2)}})
	ids := []NodeID{0, 1, 2, 3, 4}
	for i := range ids {
		w.AddNode(fmt.Sprintf("g%d", i), func() Node { return &gossip{peers: ids} })
	}
	w.Schedule(plan, ids)
	w.RunUntil(Time(4 * Second))
	w.HealAll(ids, NetOptions{})
	w.RunFor(Second)
	return w.Hash(), w.Failure()
}

// FuzzKernelPlan checks that no fault plan can crash the kernel (the gossip
// node never panics, so any failure is the kernel's) and that every plan
// replays to the same hash.
func FuzzKernelPlan(f *testing.F) {
	f.Add([]byte("seed0000\x10\x00\x05\x01\x02\x00\x20\x00\x06\x01\x00\x02"))
	f.Add([]byte("12345678\x00\x01\x07\x00\x00\x00\xff\x00\x0b\x02\x00\x10\x00\x02\x0c\x03\x00\xf0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		seed, plan := decodePlan(data, 5)
		if err := plan.Validate(5); err != nil {
			t.Fatalf("decoder made an invalid plan: %v", err)
		}
		h1, f1 := runPlan(seed, plan)
		if f1 != nil {
			t.Fatalf("kernel failure under plan %v: %v\n%s", plan, f1, f1.Stack)
		}
		if h2, _ := runPlan(seed, plan); h1 != h2 {
			t.Fatalf("plan replays to %x then %x", h1, h2)
		}
	})
}
