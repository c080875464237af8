#!/usr/bin/env bash
# Trace validation: runs the consensus simulator with the `tla-trace` feature on the seeds in
# $TLA_TRACE_SEEDS, turns each trace into TraceData.tla and checks it against PullRaft with
# TLC; then checks that a copy of the first trace with one value changed is rejected.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seeds=${TLA_TRACE_SEEDS:-3,7,8,35,38,60}
traces=$(mktemp -d)
trap 'rm -rf "$traces"' EXIT

cd "$root"
CONSENSUS_TLA_TRACE_DIR=$traces CONSENSUS_TLA_TRACE_SEEDS=$seeds \
    cargo test -q -p consensus --release --features tla-trace --test simulate write_tla_traces -- --nocapture

# validate TRACE [--corrupt N]: prints "accepted" or "rejected"; fails on anything else.
validate() {
    local trace=$1
    shift
    local work
    work=$(mktemp -d)
    cp "$here"/PullRaft.tla "$here"/TracePullRaft.tla "$here"/TracePullRaft.cfg "$work"/
    local events
    events=$(python3 "$here/trace2tla.py" "$trace" "$work" "$@")
    local t0=$SECONDS
    set +e
    (cd "$work" && "$here/tlc.sh" -deadlock -workers 1 -config TracePullRaft.cfg TracePullRaft.tla > tlc.log 2>&1)
    local code=$?
    set -e
    local verdict
    if [ $code -eq 12 ] && grep -q "Invariant NotDone is violated" "$work/tlc.log"; then
        verdict=accepted
    elif [ $code -eq 0 ] && grep -q "No error has been found" "$work/tlc.log"; then
        verdict=rejected
    else
        cat "$work/tlc.log" >&2
        echo "validate.sh: TLC failed on $trace (exit $code)" >&2
        rm -rf "$work"
        return 1
    fi
    local states
    states=$(grep -oE "[0-9,]+ distinct states" "$work/tlc.log" | head -1)
    echo "$(basename "$trace"): $events events, $verdict, $states, $((SECONDS - t0))s" >&2
    if [ "$verdict" = rejected ]; then
        grep -E "depth of the complete state graph" "$work/tlc.log" >&2 || true
    fi
    rm -rf "$work"
    echo "$verdict"
}

failed=0
passed=0
first=
for trace in "$traces"/*.ndjson; do
    first=${first:-$trace}
    if [ "$(validate "$trace")" = accepted ]; then
        passed=$((passed + 1))
    else
        echo "validate.sh: $(basename "$trace") was REJECTED: the core did something the spec does not allow"
        failed=$((failed + 1))
    fi
done
# The check can fail: one changed value must be rejected.
if [ "$(validate "$first" --corrupt 40)" = rejected ]; then
    passed=$((passed + 1))
else
    echo "validate.sh: a corrupted trace was ACCEPTED: the check cannot fail"
    failed=$((failed + 1))
fi
echo "tla traces: $passed passed, $failed failed"
[ $failed -eq 0 ]
