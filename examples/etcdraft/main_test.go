package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/smilingraft/dsim/cli"
)

// TestCompareRaftAndEtcd: the binary compares dsim's own Raft with etcd
// raft on one shared shape, side by side on the same seeds: both arms
// face the identical fault plan on every seed, and both record the
// metrics compared (leaderless time, commit latency).
func TestCompareRaftAndEtcd(t *testing.T) {
	for _, shape := range [][2]string{{"raft/halves", "etcd/halves"}, {"raft/crash-restart", "etcd/crash-restart"}} {
		var out, errb bytes.Buffer
		code := cli.Run([]string{"compare", shape[0], shape[1], "--seeds", "3", "--workers", "2",
			"--metric", "no_leader_total_ns", "--metric", "commit_latency_p50_ns"}, &out, &errb)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s%s", shape, code, out.String(), errb.String())
		}
		s := out.String()
		for _, want := range []string{"A: " + shape[0] + " (defaults)", "B: " + shape[1] + " (defaults) (fault plan identical to A's on 3 of 3 seeds)"} {
			if !strings.Contains(s, want) {
				t.Errorf("output lacks %q:\n%s", want, s)
			}
		}
		for _, line := range strings.Split(s, "\n") {
			if strings.HasPrefix(line, "no_leader_total_ns") || strings.HasPrefix(line, "commit_latency_p50_ns") {
				for _, f := range strings.Fields(line) {
					if f == "-" {
						t.Errorf("an arm recorded no value: %s", line)
					}
				}
			}
		}
	}
}

// TestCampaignDefaultsToEtcd: a campaign given no scenario pattern runs
// etcd/* (dsim's own raft/... are registered for compare only).
func TestCampaignDefaultsToEtcd(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"campaign", "--seeds", "200"}, []string{"campaign", "etcd/*", "--seeds", "200"}},
		{[]string{"campaign", "--out", "dir", "--shard", "0/4"}, []string{"campaign", "etcd/*", "--out", "dir", "--shard", "0/4"}},
		{[]string{"campaign", "raft/halves", "--seeds", "2"}, []string{"campaign", "raft/halves", "--seeds", "2"}},
		{[]string{"campaign", "merge", "a.json"}, []string{"campaign", "merge", "a.json"}},
		{[]string{"compare", "raft/halves", "etcd/halves"}, []string{"compare", "raft/halves", "etcd/halves"}},
	} {
		if got := etcdByDefault(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: got %v, want %v", tc.in, got, tc.want)
		}
	}
}
