#!/usr/bin/env python3
"""Turns a trace written by the consensus simulator (ndjson: a header line, then one event
per line) into TraceData.tla, the form TracePullRaft.tla reads: the 2020 TLC has no JSON
module, so the trace becomes a TLA+ constant.

    trace2tla.py TRACE.ndjson OUT_DIR [--corrupt N]

--corrupt N changes one logged value (the commit index of the N-th event) so that a test
can show that a trace the spec does not allow is rejected.
"""
import json
import sys

# JSON lists that are sets in the spec; every other list is a sequence.
SETS = {"susp", "voters", "learners", "servers", "initVoters"}


def tla(value, key=None):
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        items = ", ".join(tla(v) for v in value)
        return "{" + items + "}" if key in SETS else "<<" + items + ">>"
    if isinstance(value, dict):
        fields = ", ".join(f"{k} |-> {tla(v, k)}" for k, v in value.items())
        return "[" + fields + "]"
    raise ValueError(f"cannot write {value!r} as TLA+")


def main():
    args = sys.argv[1:]
    corrupt = None
    if "--corrupt" in args:
        at = args.index("--corrupt")
        corrupt = int(args[at + 1])
        del args[at:at + 2]
    source, out_dir = args
    with open(source) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    header, events = lines[0], lines[1:]
    if corrupt is not None:
        events[corrupt]["commit"] += 1
    body = ",\n  ".join(tla(e) for e in events)
    with open(f"{out_dir}/TraceData.tla", "w") as f:
        f.write("---- MODULE TraceData ----\n")
        f.write(f"\\* seed {header['seed']}, {len(events)} events, from {source}\n")
        f.write("EXTENDS Integers, Sequences\n")
        f.write(f"TraceServers == {tla(header['servers'], 'servers')}\n")
        f.write(f"TraceInitVoters == {tla(header['initVoters'], 'initVoters')}\n")
        f.write(f"Trace == <<\n  {body}\n>>\n")
        f.write("====\n")
    print(len(events))


if __name__ == "__main__":
    main()
