package mr

import (
	"strings"

	"github.com/smilingraft/dsim/sim"
)

// InputNames are the lab's eight input files (test-mr.sh's pg-*.txt).
var InputNames = []string{
	"pg-being_ernest.txt", "pg-dorian_gray.txt", "pg-frankenstein.txt", "pg-grimm.txt",
	"pg-huckleberry_finn.txt", "pg-metamorphosis.txt", "pg-sherlock_holmes.txt", "pg-tom_sawyer.txt",
}

// Input is one input file.
type Input struct {
	Name     string
	Contents string
}

// GenerateInputs draws the eight input texts from r (the workload stream):
// words of a seeded vocabulary with a skewed (Zipf-like) frequency,
// capitalised now and then, with punctuation, digits and line breaks, about
// words words per text.
func GenerateInputs(r *sim.Rand, words int) []Input {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	vocab := make([]string, 400)
	for i := range vocab {
		n := 2 + r.Intn(8)
		b := make([]byte, n)
		for j := range b {
			b[j] = letters[r.Intn(len(letters))]
		}
		vocab[i] = string(b)
	}
	punct := []string{" ", " ", " ", " ", ", ", ". ", "; ", " -- ", " 42 ", "'s "}
	out := make([]Input, len(InputNames))
	for i, name := range InputNames {
		var sb strings.Builder
		for k := 0; k < words; k++ {
			w := vocab[r.Intn(1+r.Intn(len(vocab)))]
			if r.Intn(12) == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			sb.WriteString(w)
			if k%11 == 10 {
				sb.WriteString("\n")
			} else {
				sb.WriteString(punct[r.Intn(len(punct))])
			}
		}
		out[i] = Input{Name: name, Contents: sb.String()}
	}
	return out
}
