#!/usr/bin/env python3
"""Planted bugs for mutants.sh: each replaces one exact piece of PullRaft.tla.

    mutants.py list                 name, config that should catch it, expectation, summary
    mutants.py apply NAME FILE      plants NAME in FILE (a copy of PullRaft.tla)
"""
import sys

# name: (config, expectation, summary, text in PullRaft.tla, replacement)
MUTANTS = {
    "quorum": (
        "mc-terms", "caught",
        "a leader commits without a quorum (MaybeCommit counts only its own ack)",
        "Cardinality({v \\in c.voters : Acked(s, i, d, v) >= n}) >= Quorum(c)",
        "Acked(s, i, d, i) >= n",
    ),
    "twovotes": (
        "mc-votes", "caught",
        "a voter votes twice in one term (HandleVoteReq forgets the vote it cast)",
        "\\/ s.vote = Nil /\\ s.leader = Nil",
        "\\/ s.leader = Nil",
    ),
    "uptodate": (
        "mc-terms", "caught",
        "votes without the up-to-date check (HandleVoteReq)",
        "granted == canVote /\\ UpToDate(s.log, m.lastIndex, m.lastTerm)",
        "granted == canVote",
    ),
    "votepersist": (
        "mc-votes", "caught",
        "a vote is sent before it is durable (HandleVoteReq bypasses the outbox)",
        "!.outbox = @ \\cup {VoteRespMsg(i, m.from, s.term, FALSE, TRUE)}], {})",
        "!.outbox = @], {VoteRespMsg(i, m.from, s.term, FALSE, TRUE)})",
    ),
    "earlyack": (
        "mc-crash", "caught",
        "a follower acks entries before they are durable (HandleSyncResp sends its SyncReq at once)",
        "ELSE Result([s3 EXCEPT !.syncAfter = TRUE], {})",
        "ELSE Result([s3 EXCEPT !.expect = Len(s3.log) + 1],\n"
        "                          {SyncReqMsg(i, s3.leader, s3.term, Len(s3.log) + 1, LastTerm(s3.log), Len(s3.log))})",
    ),
    "prevterm": (
        "mc-crash", "caught",
        "the leader accepts a SyncReq whose previous entry does not match (HandleSyncReq)",
        "      IN IF TermAt(s1.log, prev) # m.prevTerm\n         THEN LET h",
        "      IN IF FALSE\n         THEN LET h",
    ),
    "bigconf": (
        "mc-membership", "caught",
        "a membership change may drop every voter but the leader at once (NextConfs)",
        ": x \\in {y \\in Members(c) : c.voters \\ {y} # {}}}",
        ": x \\in {y \\in Members(c) : c.voters \\ {y} # {}}} \\cup {[voters |-> {i}, learners |-> {}]}",
    ),
    "termrule": (
        "mc-crash", "escapes",
        "no current-term commit rule (MaybeCommit commits entries of earlier terms by counting)",
        "IF n > s.commit /\\ TermAt(s.log, n) = s.term",
        "IF n > s.commit",
    ),
}


def main():
    if sys.argv[1:2] == ["list"]:
        for name, (cfg, expect, summary, _, _) in MUTANTS.items():
            print(f"{name}\t{cfg}\t{expect}\t{summary}")
    elif sys.argv[1:2] == ["apply"] and len(sys.argv) == 4:
        _, _, _, old, new = MUTANTS[sys.argv[2]]
        path = sys.argv[3]
        text = open(path).read()
        if text.count(old) != 1:
            sys.exit(f"mutants.py: {sys.argv[2]}: the text to replace occurs {text.count(old)} times in {path}")
        open(path, "w").write(text.replace(old, new))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
