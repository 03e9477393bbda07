package rsm

import "github.com/smilingraft/dsim/scenarios"

// Facts nodes/rsm, nodes/raft and the kernel record (sim.Env.Sometimes)
// that rsm scenarios declare.
const (
	factLaterTerm     = "raft: leader elected in a later term"
	factSnapInstalled = "raft: snapshot installed on follower"
	factSnapTaken     = "rsm: snapshot taken"
	factLostLeader    = "rsm: pending ops failed on leadership loss"
	factIndexTaken    = "rsm: another term's entry took a pending op's index"
	factDupApply      = "rsm: duplicate op suppressed at apply"
)

// expected are the facts each rsm scenario declares (scenarios.Scenario.
// Expect): the ones that show it exercised what it is named for, each
// reached by at least a quarter of the seeds of a 40-seed campaign.
var expected = map[string][]string{
	"rsm/leader-failure":   {factLaterTerm},
	"rsm/leader-partition": {factLostLeader, factIndexTaken},
	"rsm/restart-replay":   {factLaterTerm},
	"rsm/restart-submit":   {factLaterTerm},
	"rsm/snapshot":         {factSnapTaken},
	"rsm/snapshot-churn": {factSnapTaken, factSnapInstalled, factDupApply, factLostLeader,
		"sim: crash point before sync"},
	"rsm/swarm": {factLostLeader, factSnapInstalled, factDupApply},
}

// register registers s with the facts it declares.
func register(s *scenarios.Scenario) {
	s.Expect = expected[s.Name]
	scenarios.Register(s)
}
