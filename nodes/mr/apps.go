package mr

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/smilingraft/dsim/sim"
)

// KeyValue is one intermediate pair a Map call emits. It is an alias of a
// plain struct type, the same as mrcheck.KeyValue, so that a checker takes
// an application's output as it is, without copying it.
type KeyValue = struct {
	Key   string
	Value string
}

// Phase says whether a call is a Map or a Reduce.
type Phase uint8

// Phases of a call.
const (
	MapPhase Phase = iota + 1
	ReducePhase
)

// Effect is what one Map or Reduce call does besides computing its output,
// played out by the worker in virtual time, in this order: exit (the crash
// app's os.Exit: the worker calls its kill hook and does nothing more);
// create the marker file; count the files whose names start with Count; wait
// Delay (the call's compute time or sleep); delete the marker if Remove.
type Effect struct {
	Exit   bool
	Marker string
	Count  string
	Delay  sim.Duration
	Remove bool
}

// Ctx is what an application sees of the worker running one call.
type Ctx struct {
	// Worker stands for the process id: unique per worker incarnation.
	Worker string
	// Start is the worker's local clock when the call began.
	Start sim.Time
	// Seq counts the calls this worker incarnation made before this one.
	Seq int
	// Count is the number of files found under Effect.Count.
	Count int
	// Rand is the worker's PRNG stream.
	Rand *sim.Rand
}

// App is a MapReduce application: plain functions. Map and Reduce are the
// pure functions a sequential run uses; the optional fields describe side
// effects (Effect) and outputs that depend on the worker (MapCtx, ReduceCtx:
// process ids, times, marker counts), used by workers when set.
type App struct {
	Name   string
	Map    func(filename, contents string) []KeyValue
	Reduce func(key string, values []string) string
	// Effect, when set, draws the side effects of one call (key is the file
	// name for a map, the key for a reduce). When nil the worker charges a
	// default compute time per task.
	Effect    func(c *Ctx, p Phase, key string) Effect
	MapCtx    func(c *Ctx, filename, contents string) []KeyValue
	ReduceCtx func(c *Ctx, key string, values []string) string
}

// Apps returns the lab's applications by name.
func Apps() map[string]App {
	return map[string]App{
		"wc":         WC(),
		"indexer":    Indexer(),
		"mtiming":    MTiming(),
		"rtiming":    RTiming(),
		"jobcount":   JobCount(),
		"early_exit": EarlyExit(),
		"crash":      Crash(),
		"nocrash":    NoCrash(),
	}
}

// Words splits text into maximal runs of Unicode letters, like wc.go.
func Words(contents string) []string {
	return strings.FieldsFunc(contents, func(r rune) bool { return !unicode.IsLetter(r) })
}

// eachWord calls fn with every word of contents, as Words splits them,
// without building the list.
func eachWord(contents string, fn func(string)) {
	start := -1
	for i, r := range contents {
		letter := r < utf8.RuneSelf && ('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') ||
			r >= utf8.RuneSelf && unicode.IsLetter(r)
		switch {
		case letter && start < 0:
			start = i
		case !letter && start >= 0:
			fn(contents[start:i])
			start = -1
		}
	}
	if start >= 0 {
		fn(contents[start:])
	}
}

func count(_ string, values []string) string { return strconv.Itoa(len(values)) }

func sortedJoin(_ string, values []string) string {
	v := append([]string(nil), values...)
	sort.Strings(v)
	return strings.Join(v, " ")
}

// WC is the word count: (word, "1") per word; reduce counts.
func WC() App {
	return App{Name: "wc", Reduce: count, Map: func(_, contents string) []KeyValue {
		kva := make([]KeyValue, 0, len(contents)/6)
		eachWord(contents, func(w string) { kva = append(kva, KeyValue{w, "1"}) })
		return kva
	}}
}

// Indexer emits (word, document) once per distinct word of a document;
// reduce gives "<count> <sorted docs joined by commas>".
func Indexer() App {
	return App{Name: "indexer",
		Map: func(doc, contents string) []KeyValue {
			seen := map[string]bool{}
			var kva []KeyValue
			eachWord(contents, func(w string) {
				if !seen[w] {
					seen[w] = true
					kva = append(kva, KeyValue{w, doc})
				}
			})
			return kva
		},
		Reduce: func(_ string, values []string) string {
			v := append([]string(nil), values...)
			sort.Strings(v)
			return strconv.Itoa(len(v)) + " " + strings.Join(v, ",")
		}}
}

// probe is mtiming/rtiming's nparallel: create a marker, count the markers
// of that phase, sleep 1s, delete the marker. Markers of crashed workers are
// counted too (the lab checks kill -0); the scenarios that use probes crash
// nothing.
func probe(c *Ctx, phase string) Effect {
	prefix := "mr-worker-" + phase + "-"
	return Effect{Marker: prefix + c.Worker, Count: prefix, Delay: sim.Second, Remove: true}
}

// MTiming emits (times-<pid>, start time) and (parallel-<pid>, live map
// workers seen) per map; reduce joins the sorted values.
func MTiming() App {
	mapf := func(c *Ctx, _, _ string) []KeyValue {
		ts := float64(c.Start) / float64(sim.Second)
		return []KeyValue{{"times-" + c.Worker, strconv.FormatFloat(ts, 'f', 1, 64)},
			{"parallel-" + c.Worker, strconv.Itoa(c.Count)}}
	}
	return App{Name: "mtiming", Reduce: sortedJoin,
		Map:    func(f, s string) []KeyValue { return mapf(&Ctx{Worker: "seq"}, f, s) },
		MapCtx: mapf,
		Effect: func(c *Ctx, p Phase, _ string) Effect {
			if p == MapPhase {
				return probe(c, "map")
			}
			return Effect{}
		}}
}

// RTiming emits the keys a..j with "1"; each reduce probes how many reduce
// workers are live and returns that count.
func RTiming() App {
	return App{Name: "rtiming",
		Map: func(_, _ string) []KeyValue {
			kva := make([]KeyValue, 0, 10)
			for c := 'a'; c <= 'j'; c++ {
				kva = append(kva, KeyValue{string(c), "1"})
			}
			return kva
		},
		Reduce:    func(_ string, _ []string) string { return "1" },
		ReduceCtx: func(c *Ctx, _ string, _ []string) string { return strconv.Itoa(c.Count) },
		Effect: func(c *Ctx, p Phase, _ string) Effect {
			if p == ReducePhase {
				return probe(c, "reduce")
			}
			return Effect{Delay: 10 * sim.Millisecond}
		}}
}

// JobCount writes a unique marker per map call and sleeps 2-5 s; reduce
// counts the markers: 8 iff each of the 8 map tasks ran exactly once.
func JobCount() App {
	return App{Name: "jobcount",
		Map:       func(_, _ string) []KeyValue { return []KeyValue{{"a", "x"}} },
		Reduce:    count,
		ReduceCtx: func(c *Ctx, _ string, _ []string) string { return strconv.Itoa(c.Count) },
		Effect: func(c *Ctx, p Phase, _ string) Effect {
			if p == MapPhase {
				return Effect{Marker: "mr-worker-jobcount-" + c.Worker + "-" + strconv.Itoa(c.Seq),
					Delay: 2*sim.Second + sim.Duration(c.Rand.Intn(3000))*sim.Millisecond}
			}
			return Effect{Count: "mr-worker-jobcount"}
		}}
}

// EarlyExit emits (filename, "1"); reduce counts, sleeping 3 s for keys that
// contain "sherlock" or "tom", so that a worker exiting early is caught.
func EarlyExit() App {
	return App{Name: "early_exit", Reduce: count,
		Map: func(f, _ string) []KeyValue { return []KeyValue{{f, "1"}} },
		Effect: func(_ *Ctx, p Phase, key string) Effect {
			if p == ReducePhase && (strings.Contains(key, "sherlock") || strings.Contains(key, "tom")) {
				return Effect{Delay: 3 * sim.Second}
			}
			return Effect{Delay: 10 * sim.Millisecond}
		}}
}

func crashMap(f, contents string) []KeyValue {
	return []KeyValue{{"a", f}, {"b", strconv.Itoa(len(f))}, {"c", strconv.Itoa(len(contents))}, {"d", "xyzzy"}}
}

// Crash is NoCrash whose every call first draws r in [0,1000): r<330 the
// process exits, r<660 it sleeps U[0,10s).
func Crash() App {
	return App{Name: "crash", Map: crashMap, Reduce: sortedJoin,
		Effect: func(c *Ctx, _ Phase, _ string) Effect {
			r := c.Rand.Intn(1000)
			switch {
			case r < 330:
				return Effect{Exit: true}
			case r < 660:
				return Effect{Delay: sim.Duration(c.Rand.Intn(10000)) * sim.Millisecond}
			}
			return Effect{}
		}}
}

// NoCrash emits (a, filename), (b, len(filename)), (c, len(contents)),
// (d, xyzzy); reduce joins the sorted values.
func NoCrash() App {
	return App{Name: "nocrash", Map: crashMap, Reduce: sortedJoin,
		Effect: func(*Ctx, Phase, string) Effect { return Effect{} }}
}

// IHash is the lab's ihash: FNV-1a 32 of the key, masked to 31 bits. A key
// goes to reduce task IHash(key) % nReduce.
func IHash(key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h & 0x7fffffff)
}
