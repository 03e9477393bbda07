package mr

import "github.com/smilingraft/dsim/scenarios"

// Facts nodes/mr records (sim.Env.Sometimes) that mr scenarios declare.
const (
	factReissued  = "mr: task re-issued after timeout"
	factAttempt2  = "mr: task attempt > 1 handed out"
	factLateIgn   = "mr: late report of a finished task ignored"
	factPublished = "mr: output already published by another attempt"
)

// expected are the facts each mr scenario declares (scenarios.Scenario.
// Expect): the ones that show it exercised what it is named for, each
// reached by at least a quarter of the seeds of a 40-seed campaign.
var expected = map[string][]string{
	"mr/crash": {"mr: application made a worker exit", factAttempt2,
		"mr: task of a restarted worker made idle at once"},
	"mr/fs-crash": {"mr: file system restarted", "mr: output written again after the FS lost it", factPublished},
	"mr/late-duplicates": {factLateIgn, factPublished, factReissued, "mr: stale GetTask answered with wait",
		"mr: report of a superseded attempt accepted"},
	"mr/lossy":      {factLateIgn, factPublished},
	"mr/partition":  {factReissued, factAttempt2},
	"mr/stragglers": {factReissued, factAttempt2},
	"mr/swarm":      {factAttempt2, factPublished},
}

// register registers s with the facts it declares.
func register(s *scenarios.Scenario) {
	s.Expect = expected[s.Name]
	scenarios.Register(s)
}
