// Package regress replays dsim's regression corpus, the failure files under
// the repository's top-level testdata/failures, on every go test ./...:
// each file is rerun from its explicit plan (replay.Replay), so the corpus
// does not depend on the plan generator of the build that found it.
//
//   - testdata/failures/*.json are shrunk failures of the unsafe scenarios
//     (and unsafe variants): each must still fail with the checker it
//     recorded, so a checker that goes blind, or a scenario whose adversary
//     stops reaching the bug, turns go test red.
//   - testdata/failures/fixed/*.json are failures dsim found in its own
//     systems (in the safe protocols or in its own checkers) that were fixed
//     since: each must now pass.
//
// The same files seed the fuzz targets of the scenarios they belong to
// (campaign/proptest.Fuzz); the test also checks that such a seed runs
// exactly the file's run. The package holds tests only; it may import
// everything (scenarios/all registers every system).
package regress
