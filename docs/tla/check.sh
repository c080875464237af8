#!/usr/bin/env bash
# Model-checks PullRaft exhaustively (MCPullRaft.tla) within the bounds of each mc-*.cfg, or of
# the configs named as arguments: TLC must explore every reachable state ("0 states left on
# queue") and find no invariant violated. Fails on a violation, on any TLC error, and when a
# config does not finish within $TLA_CHECK_SECONDS (default 600) seconds.
# TLC_WORKERS (default 2) sets TLC's worker threads.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
limit=${TLA_CHECK_SECONDS:-600}
if [ $# -gt 0 ]; then
    configs=("$@")
else
    configs=()
    for cfg in "$here"/mc-*.cfg; do configs+=("$(basename "$cfg")"); done
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here"/PullRaft.tla "$here"/MCPullRaft.tla "$here"/mc-*.cfg "$work"/
cd "$work"

started=$SECONDS
failed=()
for cfg in "${configs[@]}"; do
    cfg=$(basename "$cfg")
    name=${cfg%.cfg}
    t0=$SECONDS
    set +e
    JAVA_TOOL_OPTIONS="-Dtlc2.TLC.stopAfter=$limit" \
        "$here/tlc.sh" -deadlock -workers "${TLC_WORKERS:-2}" -config "$cfg" MCPullRaft.tla > "$name.log" 2>&1
    code=$?
    set -e
    seconds=$((SECONDS - t0))
    # TLC stopped by stopAfter also says "Model checking completed": only an empty queue
    # means that every state was explored.
    if [ $code -eq 0 ] && grep -q "No error has been found" "$name.log" &&
        grep -qE "states generated, [0-9]+ distinct states found, 0 states left on queue" "$name.log"; then
        counts=$(grep -oE "^[0-9]+ states generated, [0-9]+ distinct" "$name.log" | tail -1 | grep -oE "[0-9]+")
        generated=$(echo "$counts" | head -1)
        distinct=$(echo "$counts" | tail -1)
        depth=$(grep -oE "depth of the complete state graph search is [0-9]+" "$name.log" | grep -oE "[0-9]+$")
        printf "check.sh: %-14s complete, no invariant violated: %9s states, %7s distinct, depth %2s, %4ss\n" \
            "$name" "$generated" "$distinct" "$depth" "$seconds"
    else
        grep -vE "^(Parsing|Semantic processing|Picked up)" "$name.log" || true
        if grep -qE "is violated" "$name.log"; then
            echo "check.sh: $name: $(grep -oE "Invariant [A-Za-z]+ is violated" "$name.log" | head -1) (the trace is above)"
        elif [ $code -eq 0 ] && ! grep -qE " 0 states left on queue" "$name.log"; then
            echo "check.sh: $name did NOT finish within ${limit}s (TLA_CHECK_SECONDS)"
        else
            echo "check.sh: $name FAILED (TLC exit $code) after ${seconds}s"
        fi
        failed+=("$name")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "check.sh: model checking FAILED: ${failed[*]} ($((SECONDS - started))s)"
    exit 1
fi
echo "check.sh: ${#configs[@]} configs explored exhaustively, no invariant violated ($((SECONDS - started))s)"
