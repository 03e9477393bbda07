// Package shard is the sharded key/value service of the MIT 6.5840 lab 5
// (shardkv1, LABS.md §2.6, issue 13), written as state machines on sim.Env:
//
//   - Config: a numbered assignment of NShards shards (12 by default, a
//     parameter of each Config) to replica groups, with Key2Shard, Join and
//     Leave that rebalance deterministically and move as few shards as
//     possible, and a compact binary encoding (Encode / DecodeConfig).
//   - Server: one member of a shard group, an rsm.RSM over nodes/raft whose
//     state machine (GroupSM) holds one versioned store and one duplicate
//     table per shard, and applies Get, Put, Freeze, Install and Delete
//     through the log, fenced by configuration numbers.
//   - Ctrl: the configuration controller, which keeps the current and the
//     next configuration in the single kvsrv server (nodes/kv.Server) through
//     versioned Puts and moves shards freeze -> install -> delete.
//   - Clerk: the client library; it finds a key's group from the current
//     configuration, follows changes on ErrWrongGroup, retries with the same
//     (client, seq) and records every operation in the world's history with
//     nodes/kv's OpInput/OpOutput, so checkers/kvcheck checks it unchanged.
//
// See /work/notes/shard-api.md for the migration protocol. Like every package
// under nodes/, it may import only sim, other nodes/ packages and the
// deterministic standard library: no goroutines, clocks or map-order
// dependence.
package shard
