package kv

import "github.com/smilingraft/dsim/scenarios"

// Facts nodes/kv, nodes/rsm and nodes/raft record (sim.Env.Sometimes) that
// kv scenarios declare.
const (
	factMaybe         = "kv clerk: ErrMaybe"
	factLaterTerm     = "raft: leader elected in a later term"
	factTruncated     = "raft: follower truncated a conflicting suffix"
	factSnapInstalled = "raft: snapshot installed on follower"
	factNoopRead      = "raft: no-op appended for a read"
	factLeaseRead     = "raft: read served by lease"
	factCorrupt       = "raft: corrupt disk detected"
	factTornTail      = "raft: torn log tail dropped on restart"
	factSnapTaken     = "rsm: snapshot taken"
	factLostLeader    = "rsm: pending ops failed on leadership loss"
	factIndexTaken    = "rsm: another term's entry took a pending op's index"
	factDupSubmit     = "rsm: duplicate answered from the table at submit"
)

// expected are the facts each kv scenario declares (scenarios.Scenario.
// Expect): the ones that show it exercised what it is named for, each
// reached by at least a quarter of the seeds of a 40-seed campaign. The
// variants of a shape per read path add their read path's fact.
var expected = func() map[string][]string {
	m := map[string][]string{
		"kv/disk":                                               {factCorrupt, factSnapInstalled, factTornTail, factLaterTerm},
		"kv/leader-handoff-reads":                               {factNoopRead, factLaterTerm},
		"kv/lease-drift":                                        {factLeaseRead, factLaterTerm},
		"kv/many-partitions-many-clients":                       {factLaterTerm, factTruncated, factLostLeader},
		"kv/many-partitions-one-client":                         {factLaterTerm, factTruncated, factLostLeader},
		"kv/one-partition":                                      {factTruncated, factIndexTaken},
		"kv/persist-concurrent":                                 {factLaterTerm},
		"kv/persist-concurrent-unreliable":                      {factLaterTerm, factDupSubmit},
		"kv/persist-one-client":                                 {factLaterTerm},
		"kv/persist-partition":                                  {factLaterTerm, factTruncated, factLostLeader},
		"kv/persist-partition-unreliable":                       {factLaterTerm, factTruncated, factLostLeader, factDupSubmit},
		"kv/persist-partition-unreliable-linearizable":          {factLaterTerm, factTruncated, factLostLeader, factDupSubmit},
		"kv/snapshot-recover":                                   {factSnapTaken, factSnapInstalled, factLaterTerm},
		"kv/snapshot-recover-many-clients":                      {factSnapTaken, factSnapInstalled, factLaterTerm},
		"kv/snapshot-rpc":                                       {factSnapTaken, factSnapInstalled},
		"kv/snapshot-size":                                      {factSnapTaken},
		"kv/snapshot-unreliable":                                {factSnapTaken, factSnapInstalled, factDupSubmit},
		"kv/snapshot-unreliable-recover":                        {factSnapTaken, factSnapInstalled, factDupSubmit},
		"kv/snapshot-unreliable-recover-partition":              {factSnapTaken, factSnapInstalled, factLostLeader, factTruncated},
		"kv/snapshot-unreliable-recover-partition-linearizable": {factSnapTaken, factSnapInstalled, factLostLeader, factTruncated},
		"kv/speed-snapshot":                                     {factSnapTaken},
		"kv/swarm":                                              {factLaterTerm, factSnapTaken, factSnapInstalled},
		"kv/unreliable":                                         {factMaybe, factDupSubmit},
	}
	perRead := map[string][]string{
		"kv/clock-drift":        {factLaterTerm, factLostLeader, factSnapInstalled},
		"kv/one-way":            {factLaterTerm, factLostLeader, factSnapInstalled},
		"kv/partial-partitions": {factLaterTerm, factLostLeader, factSnapInstalled},
		"kv/pause":              {factLaterTerm, factLostLeader, factTruncated},
	}
	for name, facts := range perRead {
		m[name] = facts
		m[name+"-readindex"] = append(append([]string(nil), facts...), factNoopRead)
		m[name+"-lease"] = append(append([]string(nil), facts...), factLeaseRead)
	}
	return m
}()

// register registers s with the facts it declares.
func register(s *scenarios.Scenario) {
	s.Expect = expected[s.Name]
	scenarios.Register(s)
}
