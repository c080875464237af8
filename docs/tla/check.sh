#!/usr/bin/env bash
# Model-checks PullRaft with the bounds of MCPullRaft.cfg; fails on any invariant violation.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here"/*.tla "$here"/MCPullRaft.cfg "$work"/
cd "$work"
started=$SECONDS
set +e
"$here/tlc.sh" -deadlock -workers "${TLC_WORKERS:-2}" -config MCPullRaft.cfg MCPullRaft.tla > tlc.log 2>&1
code=$?
set -e
grep -E "states generated|depth of the complete" tlc.log || true
if [ $code -ne 0 ] || ! grep -q "No error has been found" tlc.log; then
    cat tlc.log
    echo "check.sh: model checking FAILED (exit $code) after $((SECONDS - started))s"
    exit 1
fi
echo "check.sh: no invariant violated in $((SECONDS - started))s"
