package rsm

import (
	"strconv"
	"testing"
)

// parseOp's in-place split must agree with the strings.Fields reference
// (parseFields) on every op, the workloads' and malformed ones alike.
func TestParseOpMatchesFields(t *testing.T) {
	ops := []string{
		"inc", "get", "null", "dec", "inc 1 2", " inc\t1\n2 ", "null 3 18446744073709551615",
		"inc 1 18446744073709551616", "inc 0 5", "inc 1", "inc 1 2 3", "", "   ", "inc +1 2", "inc 1 -2",
		"inc 1_0 2", "inc 01 002", "xyz", "inc 1 2x", "inc\v1\f2\r", "inc\u00a01 2", "inc 1\u0085 2",
		"é", "inc 1 é", "inc 12345678901234567890 1", "inc 1234567890123456789 1", "get\x00",
	}
	for i := uint64(0); i < 50; i++ {
		ops = append(ops, "inc "+strconv.FormatUint(i*7919+1, 10)+" "+strconv.FormatUint(i*104729, 10))
	}
	for _, op := range ops {
		v1, c1, s1, ok1 := parseOp([]byte(op))
		v2, c2, s2, ok2 := parseFields([]byte(op))
		if v1 != v2 || c1 != c2 || s1 != s2 || ok1 != ok2 {
			t.Errorf("parseOp(%q) = %q %d %d %v, strings.Fields gives %q %d %d %v", op, v1, c1, s1, ok1, v2, c2, s2, ok2)
		}
	}
	if n := testing.AllocsPerRun(100, func() { parseOp([]byte("inc 12 345")) }); n != 0 {
		t.Errorf("parseOp of a workload op allocates %v times", n)
	}
}
