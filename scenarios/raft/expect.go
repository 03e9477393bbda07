package raft

import "github.com/smilingraft/dsim/scenarios"

// Facts nodes/raft and the kernel record (sim.Env.Sometimes) that raft
// scenarios declare.
const (
	factLaterTerm     = "raft: leader elected in a later term"
	factTruncated     = "raft: follower truncated a conflicting suffix"
	factFastBackup    = "raft: fast backup skipped a term"
	factSnapInstalled = "raft: snapshot installed on follower"
	factNoopRead      = "raft: no-op appended for a read"
	factLeaseRead     = "raft: read served by lease"
	factCheckQuorum   = "raft: leader stepped down (check quorum)"
	factTornTail      = "raft: torn log tail dropped on restart"
)

// expected are the facts each raft scenario declares (scenarios.Scenario.
// Expect): the ones that show it exercised what it is named for, each
// reached by at least a quarter of the seeds of a 40-seed campaign (so a
// 20-seed campaign that misses one is worth a look). Scenarios without
// faults, whose only fact is the first election, declare none.
var expected = map[string][]string{
	"raft/backup":                      {factFastBackup, factTruncated},
	"raft/bridge":                      {factLaterTerm, factFastBackup, factTruncated},
	"raft/clock-drift":                 {factLaterTerm, factFastBackup, factTruncated},
	"raft/deaf-leader":                 {factCheckQuorum, factLaterTerm},
	"raft/fail-agree":                  {factFastBackup},
	"raft/fail-no-agree":               {factTruncated},
	"raft/figure8":                     {factLaterTerm, factFastBackup, factTruncated},
	"raft/figure8-adversary":           {factLaterTerm, factTruncated},
	"raft/figure8-unreliable":          {factLaterTerm, factFastBackup, factTruncated},
	"raft/flaky":                       {factFastBackup, factLaterTerm},
	"raft/leader-failure":              {factLaterTerm},
	"raft/leader-isolation-loop":       {factLaterTerm, factTruncated, factNoopRead},
	"raft/lease-adversary":             {factLeaseRead, factLaterTerm, factTruncated},
	"raft/many-elections":              {factLaterTerm},
	"raft/new-leader-read":             {factNoopRead, factLaterTerm},
	"raft/one-way":                     {factLaterTerm, factFastBackup},
	"raft/pause":                       {factLaterTerm, factTruncated, factSnapInstalled},
	"raft/persist1":                    {factLaterTerm},
	"raft/persist2":                    {factLaterTerm, factTruncated},
	"raft/persist3":                    {factLaterTerm},
	"raft/re-election":                 {factLaterTerm},
	"raft/rejoin":                      {factTruncated},
	"raft/reliable-churn":              {factLaterTerm, factFastBackup},
	"raft/ring":                        {factLaterTerm, factFastBackup},
	"raft/snapshot-all-crash":          {factLaterTerm, factSnapInstalled},
	"raft/snapshot-init":               {factLaterTerm},
	"raft/snapshot-install":            {factSnapInstalled},
	"raft/snapshot-install-crash":      {factSnapInstalled},
	"raft/snapshot-install-uncrash":    {factSnapInstalled},
	"raft/snapshot-install-unreliable": {factSnapInstalled},
	"raft/swarm":                       {factLaterTerm, factSnapInstalled},
	"raft/torn-writes": {factTornTail, factSnapInstalled, "sim: crash point before sync",
		"sim: crash point after send raft.AppendEntriesReply"},
	"raft/unreliable-agree": {factFastBackup},
	"raft/unreliable-churn": {factLaterTerm, factFastBackup},
}

// register registers s with the facts it declares.
func register(s *scenarios.Scenario) {
	s.Expect = expected[s.Name]
	scenarios.Register(s)
}
