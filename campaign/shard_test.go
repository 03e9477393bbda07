package campaign

import (
	"strings"
	"testing"
)

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Shard
		ok   bool
	}{
		{"0/1", Shard{0, 1}, true},
		{"1/2", Shard{1, 2}, true},
		{" 3/4 ", Shard{3, 4}, true},
		{"2/2", Shard{}, false},
		{"-1/2", Shard{}, false},
		{"0/0", Shard{}, false},
		{"0/-3", Shard{}, false},
		{"0/100000000", Shard{}, false},
		{"1", Shard{}, false},
		{"a/b", Shard{}, false},
		{"", Shard{}, false},
	} {
		got, err := ParseShard(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestShardFromEnv(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		want Shard
		ok   bool   // a shard was assigned
		err  string // substring of the error, "" for none
	}{
		{"none", nil, All, false, ""},
		{"dsim shard", map[string]string{"DSIM_SHARD": "2/5"}, Shard{2, 5}, true, ""},
		{"dsim shard bad", map[string]string{"DSIM_SHARD": "5/5"}, Shard{}, true, "DSIM_SHARD"},
		{"github matrix", map[string]string{"DSIM_SHARD_INDEX": "3", "DSIM_SHARD_COUNT": "4"}, Shard{3, 4}, true, ""},
		{"github matrix no count", map[string]string{"DSIM_SHARD_INDEX": "3"}, Shard{}, true, "DSIM_SHARD_COUNT"},
		{"github matrix index too big", map[string]string{"DSIM_SHARD_INDEX": "4", "DSIM_SHARD_COUNT": "4"}, Shard{}, true, "outside 0..3"},
		{"k8s indexed job", map[string]string{"JOB_COMPLETION_INDEX": "0", "DSIM_SHARD_COUNT": "8"}, Shard{0, 8}, true, ""},
		{"k8s completions", map[string]string{"JOB_COMPLETION_INDEX": "7", "JOB_COMPLETIONS": "8"}, Shard{7, 8}, true, ""},
		{"k8s without count", map[string]string{"JOB_COMPLETION_INDEX": "1"}, Shard{}, true, "DSIM_SHARD_COUNT"},
		{"k8s garbage", map[string]string{"JOB_COMPLETION_INDEX": "x", "DSIM_SHARD_COUNT": "8"}, Shard{}, true, "not an integer"},
		{"slurm simple", map[string]string{"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{2, 4}, true, ""},
		{"slurm min step", map[string]string{"SLURM_ARRAY_TASK_ID": "14", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_STEP": "2", "SLURM_ARRAY_TASK_COUNT": "3"}, Shard{2, 3}, true, ""},
		{"slurm min, no step", map[string]string{"SLURM_ARRAY_TASK_ID": "11", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "2"}, Shard{1, 2}, true, ""},
		{"slurm outside count", map[string]string{"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{}, true, "outside 0..3"},
		{"slurm below min", map[string]string{"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "2", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{}, true, "outside"},
		{"slurm off step", map[string]string{"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_STEP": "2", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{}, true, "STEP"},
		{"slurm zero step", map[string]string{"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_STEP": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{}, true, "STEP"},
		{"slurm list 0,2,5 task 0", map[string]string{"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "5", "SLURM_ARRAY_TASK_STEP": "1", "SLURM_ARRAY_TASK_COUNT": "3"}, Shard{}, true, "SLURM_ARRAY_TASK_MAX"},
		{"slurm list 0,2,5 task 2", map[string]string{"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "5", "SLURM_ARRAY_TASK_COUNT": "3"}, Shard{}, true, "SLURM_ARRAY_TASK_MAX"},
		{"slurm range with max", map[string]string{"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "7", "SLURM_ARRAY_TASK_STEP": "2", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{3, 4}, true, ""},
		{"slurm max off step", map[string]string{"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "8", "SLURM_ARRAY_TASK_STEP": "2", "SLURM_ARRAY_TASK_COUNT": "4"}, Shard{}, true, "SLURM_ARRAY_TASK_MAX"},
		{"shard count past MaxShards", map[string]string{"DSIM_SHARD_INDEX": "0", "DSIM_SHARD_COUNT": "100000000"}, Shard{}, true, "outside 1..1048576"},
		{"slurm no count", map[string]string{"SLURM_ARRAY_TASK_ID": "3"}, Shard{}, true, "SLURM_ARRAY_TASK_COUNT"},
		{"slurm garbage", map[string]string{"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "four"}, Shard{}, true, "not an integer"},
		{"gitlab 1-based", map[string]string{"CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "3"}, Shard{0, 3}, true, ""},
		{"gitlab last", map[string]string{"CI_NODE_INDEX": "3", "CI_NODE_TOTAL": "3"}, Shard{2, 3}, true, ""},
		{"gitlab zero index", map[string]string{"CI_NODE_INDEX": "0", "CI_NODE_TOTAL": "3"}, Shard{}, true, "outside"},
		{"gitlab no total", map[string]string{"CI_NODE_INDEX": "1"}, Shard{}, true, "CI_NODE_TOTAL"},
		{"dsim wins over k8s", map[string]string{"DSIM_SHARD": "1/2", "JOB_COMPLETION_INDEX": "5", "DSIM_SHARD_COUNT": "8"}, Shard{1, 2}, true, ""},
		{"k8s wins over gitlab", map[string]string{"JOB_COMPLETION_INDEX": "5", "DSIM_SHARD_COUNT": "8", "CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "2"}, Shard{5, 8}, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, _, ok, err := ShardFromEnv(func(k string) string { return c.env[k] })
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one mentioning %q", err, c.err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error is not one line: %q", err)
				}
				return
			}
			if err != nil || ok != c.ok || got != c.want {
				t.Fatalf("got %v ok=%v err=%v, want %v ok=%v", got, ok, err, c.want, c.ok)
			}
		})
	}
}

// Shards are disjoint and their union is every seed, for any shard count.
func TestShardsPartitionSeeds(t *testing.T) {
	for total := uint64(0); total < 30; total++ {
		for n := 1; n <= 7; n++ {
			seen := map[uint64]int{}
			for i := 0; i < n; i++ {
				sh := Shard{i, n}
				for k := uint64(0); k < sh.Len(total); k++ {
					seen[sh.Seed(100, k)]++
				}
			}
			if uint64(len(seen)) != total {
				t.Fatalf("total %d in %d shards: %d distinct seeds", total, n, len(seen))
			}
			for s, c := range seen {
				if c != 1 || s < 100 || s >= 100+total {
					t.Fatalf("total %d in %d shards: seed %d seen %d times", total, n, s, c)
				}
			}
		}
	}
}

// SeedOK and MaxRuns never wrap past 2^64-1.
func TestSeedsNeverWrap(t *testing.T) {
	const max = ^uint64(0)
	if s, ok := (Shard{1, 2}).SeedOK(max-3, 1); !ok || s != max {
		t.Fatalf("SeedOK(max-3, 1) of 1/2 = %d, %v; want the last seed", s, ok)
	}
	if _, ok := (Shard{1, 2}).SeedOK(max-3, 2); ok {
		t.Fatal("SeedOK past 2^64-1 said ok")
	}
	if n := (Shard{0, 2}).MaxRuns(0, 0); n != 1<<63 {
		t.Fatalf("MaxRuns of 0/2 over all seeds = %d, want 2^63", n)
	}
	if n := All.MaxRuns(0, 0); n != max {
		t.Fatalf("MaxRuns of 0/1 over all seeds = %d, want saturation at 2^64-1", n)
	}
	if n := (Shard{1, 2}).MaxRuns(max, 0); n != 0 {
		t.Fatalf("MaxRuns from the last seed for shard 1/2 = %d, want 0", n)
	}
}
