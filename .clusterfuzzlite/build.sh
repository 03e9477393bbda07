#!/bin/bash -eu
# Builds dsim's Go native fuzz targets (func FuzzXxx(f *testing.F) in
# campaign/proptest, and the summary decoder in campaign) as libFuzzer
# binaries. Each proptest target decodes fuzzer bytes
# into a seed and a fault plan and fails when the scenario's run fails.
# Add a line per new target (e.g. raft, mr scenarios).
cd "$SRC/dsim"
compile_native_go_fuzzer github.com/smilingraft/dsim/campaign/proptest FuzzCounterCrash fuzz_counter_crash
compile_native_go_fuzzer github.com/smilingraft/dsim/campaign/proptest FuzzCounterSwarm fuzz_counter_swarm
# What `dsim campaign merge` reads: arbitrary bytes into the summary decoder
# and its count checks, then merge.
compile_native_go_fuzzer github.com/smilingraft/dsim/campaign FuzzSummaryDecoder fuzz_summary_decoder
