package etcdsim

import (
	"context"
	"testing"

	"github.com/smilingraft/dsim/campaign"
)

// TestCampaign runs dsim's campaign over every safe etcd scenario with
// every seed run twice in parallel workers (CheckDeterminism): each pair
// must give the same trace hash, so worlds running at once never share
// etcd raft's process-wide randomness, and every run must pass.
// ETCDSIM_SEEDS raises the seed count (the figure is 200).
func TestCampaign(t *testing.T) {
	o := campaign.Options{Scenarios: safe(t), Seeds: uint64(seeds(20)), From: 1, Workers: 4, CheckDeterminism: true}
	sum := campaign.Run(context.Background(), o)
	t.Logf("runs %d, passed %d, double runs %d, events %d, %.0f seeds/s", sum.Runs, sum.Passed, sum.DoubleRuns, sum.Events, sum.SeedsPerS)
	for _, f := range sum.Failures {
		t.Errorf("%+v", f)
	}
	if sum.Runs == 0 || sum.DoubleRuns == 0 || sum.Passed != sum.Runs {
		t.Errorf("runs %d, passed %d, double runs %d", sum.Runs, sum.Passed, sum.DoubleRuns)
	}
}
