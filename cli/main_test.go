package cli

// The in-process tests of this package run dsim's own scenarios.
import _ "github.com/smilingraft/dsim/scenarios/all"
