#!/usr/bin/env bash
# Model-checks PullRaft within the bounds of MCPullRaft.cfg: a breadth-first search that
# checks every invariant in every state it reaches, stopped after $TLA_CHECK_SECONDS
# (default 150). Breadth-first means every behaviour shorter than the depth reported has
# been checked. Fails on any invariant violation.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${TLA_CHECK_SECONDS:-150}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here"/*.tla "$here"/MCPullRaft.cfg "$work"/
cd "$work"
started=$SECONDS
set +e
JAVA_TOOL_OPTIONS="-Dtlc2.TLC.stopAfter=$seconds" \
    "$here/tlc.sh" -deadlock -workers "${TLC_WORKERS:-2}" -config MCPullRaft.cfg MCPullRaft.tla > tlc.log 2>&1
code=$?
set -e
if [ $code -ne 0 ] || grep -qE "is violated|^Error" tlc.log; then
    grep -vE "^(Parsing|Semantic)" tlc.log
    echo "check.sh: model checking FAILED (exit $code) after $((SECONDS - started))s"
    exit 1
fi
summary=$(grep -E "states generated" tlc.log | tail -1)
depth=$(grep -oE "depth of the complete state graph search is [0-9]+" tlc.log | grep -oE "[0-9]+$")
echo "check.sh: no invariant violated; $summary; breadth-first to depth $depth in $((SECONDS - started))s"
