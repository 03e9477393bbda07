package campaign

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"github.com/smilingraft/dsim/sim"
)

// Group is one cause of failure in a summary: the failures that share a
// Signature (the same scenario, variant and checker, and the same message
// and moment once the numbers, node names, times, hashes, quoted values and
// lists in them are replaced by placeholders). Many seeds of one bug are
// one group with a count; distinct checkers or scenarios are never one
// group.
//
// Groups are derived from Summary.Failures alone (see Groups), so a
// campaign, the merge of its shards and a summary read back from JSON give
// exactly the same groups; that is also why a failure's trace tail and plan
// (which only the failures with a file have, see Options.FilesPerChecker)
// are not part of the signature. The API is stable: the report page, the
// trend command and JUnit output key on ID and Signature.
type Group struct {
	// ID is a short, stable name of the signature (16 hex digits of its
	// FNV-1a hash): the same cause has the same ID in every summary and on
	// every night, so trends and pages can link to it.
	ID string `json:"id"`
	// Signature is the full key (see Signature): scenario, variant,
	// checker, normalised message and, when the checker placed the
	// violation, normalised moment, joined by " | ".
	Signature string `json:"signature"`
	Scenario  string `json:"scenario"`
	Variant   string `json:"variant"`
	Checker   string `json:"checker"`
	// Pattern is the normalised message (with the normalised moment after
	// " @ " when there is one): what every failure of the group says.
	Pattern string `json:"pattern"`
	// Count is how many failures the group holds.
	Count uint64 `json:"count"`
	// Files is how many of them have a failure file.
	Files uint64 `json:"files"`
	// First is the failure with the lowest seed.
	First Failure `json:"first"`
	// Smallest is the smallest repro: of the failures with a file (or of
	// all when none has one), the one that failed at the lowest event
	// index, then the lowest seed. Its File is the file to replay or
	// shrink first.
	Smallest Failure `json:"smallest"`
}

// Signature is a failure's cause key: its scenario, variant and checker
// verbatim, and its message and moment (Failure.Moment) normalised by
// NormalizeMessage, joined by " | ". Two failures with the same signature
// are taken for one bug. It depends on nothing but the failure's fields.
func Signature(f Failure) string {
	parts := []string{f.Scenario, f.Variant, f.Checker, NormalizeMessage(f.Message)}
	if f.Moment != "" {
		parts = append(parts, "moment: "+normalizeMoment(f.Moment))
	}
	return strings.Join(parts, " | ")
}

// GroupID is the ID of a signature (Group.ID).
func GroupID(signature string) string {
	h := fnv.New64a()
	h.Write([]byte(signature))
	return fmt.Sprintf("%016x", h.Sum64())
}

// Groups groups failures by Signature. The result is deterministic and does
// not depend on the failures' order: groups sorted by count (largest
// first), then by scenario, variant, checker and signature.
func Groups(failures []Failure) []Group {
	idx := map[string]int{}
	var out []Group
	for _, f := range failures {
		sig := Signature(f)
		i, ok := idx[sig]
		if !ok {
			i = len(out)
			idx[sig] = i
			pattern := NormalizeMessage(f.Message)
			if f.Moment != "" {
				pattern += " @ " + normalizeMoment(f.Moment)
			}
			out = append(out, Group{ID: GroupID(sig), Signature: sig, Scenario: f.Scenario, Variant: f.Variant,
				Checker: f.Checker, Pattern: pattern, First: f, Smallest: f})
		}
		g := &out[i]
		g.Count++
		if f.File != "" {
			g.Files++
		}
		if earlier(f, g.First) {
			g.First = f
		}
		if smaller(f, g.Smallest) {
			g.Smallest = f
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Scenario != b.Scenario {
			return a.Scenario < b.Scenario
		}
		if a.Variant != b.Variant {
			return a.Variant < b.Variant
		}
		if a.Checker != b.Checker {
			return a.Checker < b.Checker
		}
		return a.Signature < b.Signature
	})
	if out == nil {
		out = []Group{}
	}
	return out
}

// earlier orders failures of one group by seed, then by what else tells
// them apart, so that First does not depend on the failures' order.
func earlier(a, b Failure) bool {
	if a.Seed != b.Seed {
		return a.Seed < b.Seed
	}
	if a.Event != b.Event {
		return a.Event < b.Event
	}
	return a.File < b.File
}

// smaller orders failures as repros: one with a file first, then the
// lowest failure event index, then the lowest seed.
func smaller(a, b Failure) bool {
	if (a.File != "") != (b.File != "") {
		return a.File != ""
	}
	if a.Event != b.Event {
		return a.Event < b.Event
	}
	return earlier(a, b)
}

// maxPattern bounds a normalised message (runes), so a checker that prints
// a whole history still gives a key of reasonable size; NormalizeMessage
// reads at most maxNormalizeInput bytes of a message.
const (
	maxPattern        = 300
	maxNormalizeInput = 8 << 10
)

// NormalizeMessage turns a failure message into the part that names its
// cause: a trailing "(picture: ...)" or "(artifact not written: ...)" that
// only failures with a file carry is dropped; quoted strings become "S";
// bracketed lists ([...] and {...}) become [...]; hexadecimal hashes of 8
// or more digits H; numbers (with their sign and decimals) N, and numbers
// with a time unit (5s, 120ms, 3.5µs, 1m30s, 5020937195ns) T, so node
// names (s1, n2, g2), indices, terms and times all lose their values; runs
// of white space become one space. The result is at most maxPattern runes.
func NormalizeMessage(msg string) string {
	for _, suffix := range []string{" (picture: ", " (artifact not written: "} {
		if i := strings.LastIndex(msg, suffix); i >= 0 && strings.HasSuffix(msg, ")") {
			msg = msg[:i]
		}
	}
	if len(msg) > maxNormalizeInput {
		msg = msg[:maxNormalizeInput] // the pattern keeps far less anyway
	}
	r := []rune(msg)
	var b strings.Builder
	isDigit := func(c rune) bool { return c >= '0' && c <= '9' }
	isHex := func(c rune) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
	isWord := func(c rune) bool {
		return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c > 127
	}
	match := matchBrackets(r)
	unclosed := map[rune]bool{}
	space := false
	for i := 0; i < len(r) && b.Len() <= 4*maxPattern; {
		c := r[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			space = true
			i++
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		prevWord := i > 0 && isWord(r[i-1])
		switch {
		case (c == '"' || c == '\'' || c == '`') && unclosed[c]:
			b.WriteRune(c)
			i++
		case c == '"' || c == '\'' || c == '`':
			// A quoted value: skip to the closing quote (backslash escapes).
			j := i + 1
			for j < len(r) && r[j] != c {
				if r[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(r) { // unterminated: keep the quote, go on
				b.WriteRune(c)
				i++
				unclosed[c] = true // no later c closes either: never scan again
				continue
			}
			b.WriteString(`"S"`)
			i = j + 1
		case c == '[' || c == '{':
			if match[i] < 0 { // unmatched: keep it, go on
				b.WriteRune(c)
				i++
				continue
			}
			b.WriteRune(c)
			b.WriteString("...")
			b.WriteRune(r[match[i]])
			i = match[i] + 1
		case !prevWord && hexRun(r, i, isHex, isWord) > 0:
			b.WriteByte('H')
			i += hexRun(r, i, isHex, isWord)
		case isDigit(c) || (c == '-' && !prevWord && i+1 < len(r) && isDigit(r[i+1])):
			j := i + 1
			for j < len(r) && (isDigit(r[j]) || r[j] == '.' && j+1 < len(r) && isDigit(r[j+1])) {
				j++
			}
			if k := timeUnits(r, j, isDigit, isWord); k > j {
				b.WriteByte('T')
				j = k
			} else {
				b.WriteByte('N')
			}
			i = j
		default:
			b.WriteRune(c)
			i++
		}
	}
	out := []rune(b.String())
	if len(out) > maxPattern {
		out = append(out[:maxPattern], '…')
	}
	return string(out)
}

// matchBrackets returns, for every '[' and '{' in r, the index of the ']'
// or '}' that closes it (-1: none), in one pass: normalising stays linear
// in the message, however many brackets a hostile summary holds.
func matchBrackets(r []rune) []int {
	match := make([]int, len(r))
	var square, curly []int
	for i, c := range r {
		match[i] = -1
		switch c {
		case '[':
			square = append(square, i)
		case '{':
			curly = append(curly, i)
		case ']':
			if n := len(square); n > 0 {
				match[square[n-1]] = i
				square = square[:n-1]
			}
		case '}':
			if n := len(curly); n > 0 {
				match[curly[n-1]] = i
				curly = curly[:n-1]
			}
		}
	}
	return match
}

// hexRun returns the length of a hexadecimal hash at r[i], or 0: 8 or
// more hex digits after 0x, or mixing decimal digits and letters, or 16
// decimal digits (a trace hash without a letter), not followed by a word
// character.
func hexRun(r []rune, i int, isHex, isWord func(rune) bool) int {
	j := i
	if j+1 < len(r) && r[j] == '0' && (r[j+1] == 'x' || r[j+1] == 'X') {
		j += 2
	}
	prefixed := j > i
	start, digit, letter := j, false, false
	for j < len(r) && isHex(r[j]) {
		if r[j] >= '0' && r[j] <= '9' {
			digit = true
		} else {
			letter = true
		}
		j++
	}
	n := j - start
	// A hash of decimal digits only is still a hash when it has a
	// trace hash's 16 digits (else it is a number: N or T).
	hash := prefixed || (digit && letter) || (digit && n == 16)
	if n < 8 || !hash || (j < len(r) && isWord(r[j])) {
		return 0
	}
	return j - i
}

// timeUnits returns the end of a run of Go duration units after a number
// ending at j ("s", "ms", "1m30s"...), or j when none follows: a unit must
// not be followed by another letter ("5 ops" and "3keys" are not times).
func timeUnits(r []rune, j int, isDigit, isWord func(rune) bool) int {
	units := []string{"ns", "us", "µs", "ms", "s", "m", "h"}
	end := j
	for {
		matched := false
		for _, u := range units {
			ur := []rune(u)
			k := end + len(ur)
			if k > len(r) || string(r[end:k]) != u {
				continue
			}
			if k < len(r) && isWord(r[k]) && !isDigit(r[k]) {
				continue // a word like "secs" or "mr"
			}
			end, matched = k, true
			break
		}
		if !matched {
			return end
		}
		// "1m30s": more digits and another unit.
		k := end
		for k < len(r) && (isDigit(r[k]) || r[k] == '.') {
			k++
		}
		if k == end || k == len(r) {
			return end
		}
		if next := timeUnits(r, k, isDigit, isWord); next > k {
			return next
		}
		return end
	}
}

// normalizeMoment normalises a moment's Why like a message, keeping only
// its first clause: "; 2 more keys broken" says how far the damage spread,
// not what caused it.
func normalizeMoment(why string) string {
	if i := strings.Index(why, "; "); i >= 0 {
		why = why[:i]
	}
	return NormalizeMessage(why)
}

// momentWhy is the one-line moment of a failure ("" without one), kept in
// Failure.Moment for Signature.
func momentWhy(f *sim.Failure) string {
	if f == nil || f.Moment == nil {
		return ""
	}
	return f.Moment.Why
}
