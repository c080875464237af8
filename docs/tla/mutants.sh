#!/usr/bin/env bash
# Shows that the model check can fail: plants one bug at a time (mutants.py) in a copy of
# PullRaft.tla and runs TLC on the config named for it, which must report an invariant
# violation. A mutant marked "escapes" (termrule: see README.md) is expected not to be
# caught within the bounds; it is run and reported, and does not fail the script.
# Usage: mutants.sh [--all] [mutant...]
#   --all: run every mutant against every mc-*.cfg (a table of which config catches what).
# TLA_CHECK_SECONDS (default 600) bounds each TLC run, TLC_WORKERS (default 2) its workers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
limit=${TLA_CHECK_SECONDS:-600}
all=false
if [ "${1:-}" = "--all" ]; then
    all=true
    shift
fi
wanted=("$@")
table=$(python3 "$here/mutants.py" list)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# run MUTANT CFG: prints one line; returns 0 if TLC reported a violation, 1 if it explored
# everything without one, 2 on anything else.
run() {
    local mutant=$1 cfg=$2
    local work=$scratch/$mutant-$cfg
    mkdir -p "$work"
    cp "$here"/PullRaft.tla "$here"/MCPullRaft.tla "$here/$cfg.cfg" "$work"/
    if ! python3 "$here/mutants.py" apply "$mutant" "$work/PullRaft.tla"; then
        echo "mutants.sh: $mutant could not be planted: PullRaft.tla changed, update mutants.py"
        return 2
    fi
    local t0=$SECONDS code=0
    (cd "$work" && JAVA_TOOL_OPTIONS="-Dtlc2.TLC.stopAfter=$limit" \
        "$here/tlc.sh" -deadlock -workers "${TLC_WORKERS:-2}" -config "$cfg.cfg" MCPullRaft.tla > tlc.log 2>&1) || code=$?
    local seconds=$((SECONDS - t0)) log=$work/tlc.log
    local distinct
    distinct=$(grep -oE "[0-9]+ distinct states found" "$log" | tail -1 | grep -oE "^[0-9]+" || echo "?")
    if grep -qE "^Error: Invariant [A-Za-z]+ is violated" "$log"; then
        local inv steps
        inv=$(grep -oE "Invariant [A-Za-z]+ is violated" "$log" | head -1 | awk '{print $2}')
        steps=$(grep -cE "^State [0-9]+: " "$log")
        printf "mutants.sh: %-11s %-14s CAUGHT: %s violated, trace of %s states, %s distinct states explored, %ss\n" \
            "$mutant" "$cfg" "$inv" "$steps" "$distinct" "$seconds"
        return 0
    elif [ $code -eq 0 ] && grep -qE "distinct states found, 0 states left on queue" "$log"; then
        printf "mutants.sh: %-11s %-14s escaped: every state explored (%s distinct), no violation, %ss\n" \
            "$mutant" "$cfg" "$distinct" "$seconds"
        return 1
    else
        grep -vE "^(Parsing|Semantic processing|Picked up)" "$log" | tail -30
        printf "mutants.sh: %-11s %-14s TLC failed or did not finish (exit %s), %ss\n" "$mutant" "$cfg" "$code" "$seconds"
        return 2
    fi
}

failed=()
while IFS=$'\t' read -r mutant cfg expect summary; do
    if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " == *" $mutant "* ]]; then
        continue
    fi
    echo "mutants.sh: $mutant: $summary (expected: $expect in $cfg)"
    if $all; then
        for c in "$here"/mc-*.cfg; do
            run "$mutant" "$(basename "$c" .cfg)" < /dev/null || true
        done
        continue
    fi
    result=0
    run "$mutant" "$cfg" < /dev/null || result=$?
    if [ $result -eq 2 ] || { [ $result -eq 1 ] && [ "$expect" = caught ]; }; then
        failed+=("$mutant")
    fi
done <<< "$table"

if [ ${#failed[@]} -gt 0 ]; then
    echo "mutants.sh: FAILED: not caught: ${failed[*]}"
    exit 1
fi
echo "mutants.sh: every mutant expected to be caught was caught"
