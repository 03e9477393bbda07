#!/bin/sh
# Mutation score: applies every patch in testdata/mutants to a temporary copy
# of HEAD, builds dsim there, runs the mutant system's campaign with one
# worker, a seed budget and a CPU cap, and prints a markdown table. Flags go
# to scripts/mutants (see its doc comment): -run NAMES, -seeds N, -cpu DUR,
# -json FILE, -keep.
set -e
cd "$(dirname "$0")/.."
exec go run ./scripts/mutants "$@"
