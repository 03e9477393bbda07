package kvsrv

import "github.com/smilingraft/dsim/scenarios"

// factMaybe is the fact a clerk records (sim.Env.Sometimes) when a Put's
// outcome is unknown: the unreliable scenarios are named for it.
const factMaybe = "kv clerk: ErrMaybe"

// expected are the facts each kvsrv and lock scenario declares
// (scenarios.Scenario.Expect), each reached by at least a third of the
// seeds of a 40-seed campaign.
var expected = map[string][]string{
	"kvsrv/swarm":                  {factMaybe, "kvsrv: duplicate of the request that wrote the current version"},
	"kvsrv/unreliable":             {factMaybe},
	"lock/many-clients-unreliable": {factMaybe},
	"lock/one-client-unreliable":   {factMaybe},
}

// register registers s with the facts it declares.
func register(s *scenarios.Scenario) {
	s.Expect = expected[s.Name]
	scenarios.Register(s)
}
