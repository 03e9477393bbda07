// Package sim is dsim's kernel: a seeded, single-threaded discrete-event
// world in which every node of a distributed system runs as a state machine on
// virtual time, while a nemesis injects network, process, disk and clock
// faults.
//
// A World is built from a seed and Options. Events sit in one priority queue
// ordered by (virtual time, sequence number), so a run is a pure function of
// its inputs: the same (world set-up, seed, fault plan) gives the same trace
// hash in any process, with any GOMAXPROCS, under -race.
//
// Nodes implement Node and talk to the world only through their Env: the local
// clock, Send, timers, a callback RPC helper, a private PRNG stream, a Disk and
// a logger. Faults are data: a Plan of timed Actions, generated from the
// nemesis stream by GeneratePlan or written by hand, and stored in failure
// files.
//
// Package sim imports the standard library only and knows no protocol.
package sim
