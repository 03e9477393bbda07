#!/bin/sh
# Runs the etcd/... campaign against etcd raft v3.7.0 instead of v3.6: the
# same code built with go.v37.mod (a copy of go.mod requiring
# go.etcd.io/raft/v3 v3.7.0). A finding that fails on v3.6 and passes here is
# fixed upstream; one that fails on both is new.
#
#   scripts/v37.sh SEEDS [campaign flags or scenario patterns...]
#   scripts/v37.sh 200 --workers 2 --out /tmp/v37
#
# It builds a binary rather than `go run -modfile=go.v37.mod . campaign ...`
# because go run reports every non-zero exit status as 1, and the campaign's
# 0 (green), 1 (a property failed) and 2 (bad input) must stay apart.
set -u
cd "$(dirname "$0")/.." || exit 2
case "${1:-}" in
'' | *[!0-9]* | 0)
	echo "usage: scripts/v37.sh SEEDS [campaign flags...] (SEEDS a positive integer, got '${1:-}')" >&2
	exit 2
	;;
esac
seeds=$1
shift
dir=$(mktemp -d) || exit 2
trap 'rm -rf "$dir"' EXIT
go build -modfile=go.v37.mod -o "$dir/etcdsim-v37" . || {
	echo "scripts/v37.sh: building against etcd raft v3.7.0 (go.v37.mod) failed" >&2
	exit 2
}
"$dir/etcdsim-v37" campaign --seeds "$seeds" "$@"
