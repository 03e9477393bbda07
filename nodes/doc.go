// Package nodes is the parent of dsim's systems under test (nodes/raft,
// nodes/counter, nodes/mr, ...). Each is a state machine on sim.Env and obeys
// the determinism rules that this package's test enforces: no goroutines,
// channels or select; no imports of time, sync, os, math/rand, unsafe (or
// anything else that reaches real clocks, threads or I/O); randomness only
// from the node's sim stream; no map-order-dependent behaviour.
//
// Packages under nodes/ may import sim and each other (kv uses raft).
package nodes
