------------------------------ MODULE PullRaft ------------------------------
(***************************************************************************)
(* The pull-mode raft of consensus/ as the Rust core implements it, one    *)
(* group. Each node's volatile state is one record, and each handler is a  *)
(* pure operator over it that mirrors the Rust function of the same name   *)
(* (see README.md for the table), so that a trace of the core can be       *)
(* checked step by step.                                                   *)
(*                                                                         *)
(* Followers pull: SyncReq(next, prevTerm, stored); the leader answers     *)
(* SyncResp (entries + commit), SyncReject (a conflict hint; the follower  *)
(* truncates its divergent tail) or parks the request until it has         *)
(* something new. stored is the follower's ack. Persistence is a separate  *)
(* step: Ready hands out the log and hard state, Persist makes them        *)
(* durable and sends the messages that had to wait for that, Crash         *)
(* restarts a node from what is durable.                                   *)
(*                                                                         *)
(* Abstractions: time is not modelled (elections, heartbeats, retries and  *)
(* check-quorum step-down may happen at any moment, and a node in its      *)
(* check-quorum lease may or may not ignore a vote request); the network   *)
(* is a set of messages that are never removed (so any message can be     *)
(* lost, duplicated or reordered); a SyncResp carries all entries from its *)
(* next index; log compaction and snapshots are not modelled; a Heartbeat  *)
(* may re-notify more members than the core does.                          *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets, TLC

CONSTANTS Server,      \* node ids, positive integers
          InitVoters   \* the group's voters at the start; other servers are spares

Nil == 0
Roles == {"Follower", "PreCandidate", "Candidate", "Leader"}

VARIABLES
    st,       \* st[i]: the volatile state of node i (a record, see Fresh)
    dur,      \* dur[i]: what is durable on node i: log and hard state
    pending,  \* pending[i]: a Ready handed out and not yet persisted
    msgs,     \* every message ever sent
    hist      \* history, for the invariants: the leaders elected

vars == <<st, dur, pending, msgs, hist>>

-----------------------------------------------------------------------------
(* Helpers *)

Max(S) == CHOOSE x \in S : \A y \in S : y <= x
Min(S) == CHOOSE x \in S : \A y \in S : x <= y
Min2(a, b) == IF a < b THEN a ELSE b
Max2(a, b) == IF a > b THEN a ELSE b

LastTerm(log) == IF log = <<>> THEN 0 ELSE log[Len(log)].term
\* -1: no entry there.
TermAt(log, k) == IF k = 0 THEN 0 ELSE IF k >= 1 /\ k <= Len(log) THEN log[k].term ELSE -1
EntriesFrom(log, k) == IF k <= Len(log) THEN SubSeq(log, k, Len(log)) ELSE <<>>

Entry(term, kind, conf) == [term |-> term, kind |-> kind, voters |-> conf.voters, learners |-> conf.learners]
NoConf == [voters |-> {}, learners |-> {}]

\* The membership in force on node i: the latest membership entry in its log.
InitConf(i) == IF i \in InitVoters THEN [voters |-> InitVoters, learners |-> {}] ELSE NoConf
ConfOf(i, log) ==
    LET idx == {k \in 1..Len(log) : log[k].kind = "conf"}
    IN IF idx = {} THEN InitConf(i)
       ELSE [voters |-> log[Max(idx)].voters, learners |-> log[Max(idx)].learners]
Members(c) == c.voters \cup c.learners
Quorum(c) == Cardinality(c.voters) \div 2 + 1

UpToDate(log, lastIndex, lastTerm) ==
    \/ lastTerm > LastTerm(log)
    \/ lastTerm = LastTerm(log) /\ lastIndex >= Len(log)

\* What is durable and still part of the log (RaftLog::stored_index).
StoredIndex(s, d) == Min2(Len(d.log), s.stable)

-----------------------------------------------------------------------------
(* Messages, field for field as consensus/src/message.rs *)

VoteReqMsg(i, j, term, pre, transfer, log) ==
    [type |-> "VoteReq", from |-> i, to |-> j, term |-> term, pre |-> pre,
     transfer |-> transfer, lastIndex |-> Len(log), lastTerm |-> LastTerm(log)]
VoteRespMsg(i, j, term, pre, granted) ==
    [type |-> "VoteResp", from |-> i, to |-> j, term |-> term, pre |-> pre, granted |-> granted]
SyncReqMsg(i, j, term, next, prevTerm, stored) ==
    [type |-> "SyncReq", from |-> i, to |-> j, term |-> term, next |-> next,
     prevTerm |-> prevTerm, stored |-> stored]
SyncRespMsg(i, j, term, next, prevTerm, entries, commit, suspend) ==
    [type |-> "SyncResp", from |-> i, to |-> j, term |-> term, next |-> next,
     prevTerm |-> prevTerm, entries |-> entries, commit |-> commit, suspend |-> suspend]
SyncRejectMsg(i, j, term, next, prevTerm, hintIndex, hintTerm) ==
    [type |-> "SyncReject", from |-> i, to |-> j, term |-> term, next |-> next,
     prevTerm |-> prevTerm, hintIndex |-> hintIndex, hintTerm |-> hintTerm]
NotifyMsg(i, j, term, commit) ==
    [type |-> "NotifySync", from |-> i, to |-> j, term |-> term, commit |-> commit]
TimeoutNowMsg(i, j, term) == [type |-> "TimeoutNow", from |-> i, to |-> j, term |-> term]

-----------------------------------------------------------------------------
(* Node state *)

NoPark == [on |-> FALSE, next |-> 0, prev |-> 0]
NoPending == [on |-> FALSE, log |-> <<>>, term |-> 0, vote |-> Nil, commit |-> 0, out |-> {}, from |-> 0]

Fresh(term, vote, log, commit) ==
    [term |-> term, vote |-> vote, role |-> "Follower", leader |-> Nil, log |-> log,
     commit |-> commit, stable |-> Len(log),
     granted |-> {}, rejected |-> {},                        \* candidates
     tracked |-> {}, pstored |-> [j \in Server |-> 0],       \* leaders: progress
     parked |-> [j \in Server |-> NoPark], lsusp |-> {},
     csent |-> [j \in Server |-> 0], transferee |-> Nil,
     fsusp |-> FALSE, syncAfter |-> FALSE, expect |-> 0,     \* followers
     outbox |-> {}]                                          \* sent after persist

\* Raft::reset
Reset(s, term) ==
    [s EXCEPT !.term = term, !.vote = IF term # s.term THEN Nil ELSE s.vote,
              !.leader = Nil, !.granted = {}, !.rejected = {}, !.tracked = {},
              !.pstored = [j \in Server |-> 0], !.parked = [j \in Server |-> NoPark],
              !.lsusp = {}, !.csent = [j \in Server |-> 0], !.transferee = Nil,
              !.fsusp = FALSE, !.syncAfter = FALSE, !.expect = 0]

BecomeFollower(s, term, leader) == [Reset(s, term) EXCEPT !.role = "Follower", !.leader = leader]

Result(s, out) == [s |-> s, out |-> out]

PendingConf(s) == \E k \in (s.commit + 1)..Len(s.log) : s.log[k].kind = "conf"

\* Raft::committed_to: a leader that removed itself steps down once that is committed.
CommittedTo(s, i) ==
    IF s.role = "Leader" /\ i \notin ConfOf(i, s.log).voters /\ ~PendingConf(s)
    THEN BecomeFollower(s, s.term, Nil) ELSE s

\* The ack a leader counts for voter v.
Acked(s, i, d, v) == IF v = i THEN StoredIndex(s, d) ELSE IF v \in s.tracked THEN s.pstored[v] ELSE 0

\* Raft::maybe_commit: the highest index durable on a quorum, if from our term.
MaybeCommit(s, i, d) ==
    LET c == ConfOf(i, s.log)
        ok == {n \in 0..Len(s.log) : Cardinality({v \in c.voters : Acked(s, i, d, v) >= n}) >= Quorum(c)}
        n == IF ok = {} THEN 0 ELSE Max(ok)
    IN IF n > s.commit /\ TermAt(s.log, n) = s.term
       THEN CommittedTo([s EXCEPT !.commit = n], i)
       ELSE s

\* Raft::membership_changed (leader): track new members and notify them; forget removed ones.
MembershipChanged(s, i) ==
    LET c == ConfOf(i, s.log)
        keep == s.tracked \cap Members(c)
        new == (Members(c) \ {i}) \ s.tracked
    IN Result([s EXCEPT !.tracked = keep \cup new,
                        !.pstored = [j \in Server |-> IF j \in keep THEN s.pstored[j] ELSE 0],
                        !.parked = [j \in Server |-> IF j \in keep THEN s.parked[j] ELSE NoPark],
                        !.lsusp = s.lsusp \cap keep,
                        !.csent = [j \in Server |-> IF j \in keep THEN s.csent[j] ELSE 0],
                        !.transferee = IF s.transferee \in c.voters THEN s.transferee ELSE Nil],
              {NotifyMsg(i, j, s.term, s.commit) : j \in new})

\* Raft::wake_suspended_followers
WakeSuspended(s, i) == Result([s EXCEPT !.lsusp = {}], {NotifyMsg(i, j, s.term, s.commit) : j \in s.lsusp})

\* Raft::append_entry (leader)
AppendEntry(s, i, e) ==
    LET s1 == [s EXCEPT !.log = Append(s.log, e)]
        m == IF e.kind = "conf" THEN MembershipChanged(s1, i) ELSE Result(s1, {})
        w == WakeSuspended(m.s, i)
    IN Result(w.s, m.out \cup w.out)

\* Raft::become_leader
BecomeLeader(s, i, d) ==
    LET r == [Reset(s, s.term) EXCEPT !.role = "Leader", !.leader = i,
                                      !.tracked = Members(ConfOf(i, s.log)) \ {i}]
        a == AppendEntry(r, i, Entry(s.term, "noop", NoConf))
        notify == {NotifyMsg(i, j, s.term, a.s.commit) : j \in a.s.tracked}
    IN Result(MaybeCommit(a.s, i, d), a.out \cup notify)

\* Raft::campaign(Vote | Transfer)
CampaignVote(s, i, d, transfer) ==
    LET c == ConfOf(i, s.log)
        s1 == [Reset(s, s.term + 1) EXCEPT !.role = "Candidate", !.vote = i, !.granted = {i}]
    IN IF Quorum(c) <= 1 THEN BecomeLeader(s1, i, d)
       ELSE Result([s1 EXCEPT !.outbox = @ \cup
                     {VoteReqMsg(i, j, s1.term, FALSE, transfer, s1.log) : j \in c.voters \ {i}}], {})

\* Raft::campaign(PreVote): asks for promises at term + 1 without changing its own term.
CampaignPre(s, i, d) ==
    LET c == ConfOf(i, s.log)
        s1 == [Reset(s, s.term) EXCEPT !.role = "PreCandidate", !.granted = {i}]
    IN IF Quorum(c) <= 1 THEN CampaignVote(s1, i, d, FALSE)
       ELSE Result(s1, {VoteReqMsg(i, j, s.term + 1, TRUE, FALSE, s1.log) : j \in c.voters \ {i}})

CanCampaign(s, i) == i \in ConfOf(i, s.log).voters /\ s.role # "Leader"

-----------------------------------------------------------------------------
(* Leader side: leader.rs *)

\* Raft::answer for every follower in S (those in susp are told to suspend).
AnswerAll(s, i, S, susp) ==
    Result([s EXCEPT !.parked = [j \in Server |-> IF j \in S THEN NoPark ELSE s.parked[j]],
                     !.csent = [j \in Server |-> IF j \in S THEN s.commit ELSE s.csent[j]],
                     !.lsusp = s.lsusp \cup susp],
           {SyncRespMsg(i, j, s.term, s.parked[j].next, s.parked[j].prev,
                        EntriesFrom(s.log, s.parked[j].next), s.commit, j \in susp) : j \in S})

\* Raft::handle_sync_req
HandleSyncReq(s, i, d, m) ==
    IF m.from \notin s.tracked THEN Result(s, {})
    ELSE
      LET j == m.from
          s1 == [s EXCEPT !.lsusp = @ \ {j}]
          prev == m.next - 1
      IN IF TermAt(s1.log, prev) # m.prevTerm
         THEN LET h == Max({k \in 0..Min2(prev, Len(s1.log)) : TermAt(s1.log, k) <= m.prevTerm})
              IN Result([s1 EXCEPT !.parked[j] = NoPark],
                        {SyncRejectMsg(i, j, s.term, m.next, m.prevTerm, h, TermAt(s1.log, h))})
         ELSE LET s2 == [s1 EXCEPT !.pstored[j] = Max2(@, Min2(m.stored, prev)),
                                   !.parked[j] = [on |-> TRUE, next |-> m.next, prev |-> m.prevTerm]]
                  s3 == MaybeCommit(s2, i, d)
              IN Result(s3, IF s3.transferee = j /\ s3.pstored[j] = Len(s3.log)
                            THEN {TimeoutNowMsg(i, j, s3.term)} ELSE {})

-----------------------------------------------------------------------------
(* Follower side: follower.rs *)

\* Raft::send_sync_req
SendSyncReq(s, i, d) ==
    IF s.leader = Nil THEN Result(s, {})
    ELSE Result([s EXCEPT !.expect = Len(s.log) + 1],
                {SyncReqMsg(i, s.leader, s.term, Len(s.log) + 1, LastTerm(s.log), StoredIndex(s, d))})

\* Raft::wake_follower_self
WakeFollower(s, i, d) ==
    LET s1 == [s EXCEPT !.fsusp = FALSE]
    IN IF ~s1.syncAfter THEN SendSyncReq(s1, i, d) ELSE Result(s1, {})

\* Raft::handle_sync_resp
HandleSyncResp(s, i, d, m) ==
    IF s.expect # m.next THEN Result(s, {})
    ELSE
      LET s1 == [s EXCEPT !.expect = 0]
          prev == m.next - 1
      IN IF TermAt(s1.log, prev) # m.prevTerm THEN SendSyncReq(s1, i, d)
         ELSE
           LET es == m.entries
               conflicts == {k \in 1..Len(es) : TermAt(s1.log, prev + k) # es[k].term}
               s2 == IF conflicts = {} THEN s1
                     ELSE LET k == Min(conflicts)
                          IN [s1 EXCEPT !.log = SubSeq(s1.log, 1, prev + k - 1) \o SubSeq(es, k, Len(es)),
                                        !.stable = Min2(@, prev + k - 1)]
               nc == Min2(m.commit, prev + Len(es))
               s3 == IF nc > s2.commit THEN [s2 EXCEPT !.commit = nc] ELSE s2
           IN IF m.suspend /\ es = <<>> THEN Result([s3 EXCEPT !.fsusp = TRUE], {})
              ELSE Result([s3 EXCEPT !.syncAfter = TRUE], {})

\* Raft::handle_sync_reject: our entry at next - 1 is not the leader's: truncate from there.
HandleSyncReject(s, i, d, m) ==
    IF s.expect # m.next THEN Result(s, {})
    ELSE
      LET s1 == [s EXCEPT !.expect = 0]
          at == m.next - 1
      IN IF TermAt(s1.log, at) # m.prevTerm THEN SendSyncReq(s1, i, d)
         ELSE
           LET s2 == [s1 EXCEPT !.log = SubSeq(@, 1, at - 1), !.stable = Min2(@, at - 1)]
               k == Max({x \in 0..Min2(m.hintIndex, Len(s2.log)) : TermAt(s2.log, x) <= m.hintTerm})
           IN Result([s2 EXCEPT !.expect = k + 1],
                     {SyncReqMsg(i, s2.leader, s2.term, k + 1, TermAt(s2.log, k), StoredIndex(s2, d))})

\* Raft::step_follower: any message of our term but SyncReq comes from its leader.
StepFollower(s, i, d, m) ==
    IF m.type = "SyncReq" THEN Result(s, {})
    ELSE
      LET s0 == IF s.role # "Follower" THEN BecomeFollower(s, s.term, m.from) ELSE s
          s1 == [s0 EXCEPT !.leader = m.from]
      IN CASE m.type = "SyncResp" -> HandleSyncResp(s1, i, d, m)
           [] m.type = "SyncReject" -> HandleSyncReject(s1, i, d, m)
           [] m.type = "NotifySync" -> WakeFollower(s1, i, d)
           [] m.type = "TimeoutNow" -> IF CanCampaign(s1, i) THEN CampaignVote(s1, i, d, TRUE) ELSE Result(s1, {})
           [] OTHER -> Result(s1, {})

-----------------------------------------------------------------------------
(* Elections: election.rs *)

\* Raft::handle_vote_req
HandleVoteReq(s, i, m) ==
    LET canVote == \/ s.vote = m.from
                   \/ s.vote = Nil /\ s.leader = Nil
                   \/ m.pre /\ m.term > s.term
        granted == canVote /\ UpToDate(s.log, m.lastIndex, m.lastTerm)
    IN IF m.pre THEN Result(s, {VoteRespMsg(i, m.from, IF granted THEN m.term ELSE s.term, TRUE, granted)})
       ELSE IF granted
            THEN Result([s EXCEPT !.vote = m.from,
                                  !.outbox = @ \cup {VoteRespMsg(i, m.from, s.term, FALSE, TRUE)}], {})
            ELSE Result(s, {VoteRespMsg(i, m.from, s.term, FALSE, FALSE)})

\* Raft::handle_vote_resp
HandleVoteResp(s, i, d, m) ==
    LET c == ConfOf(i, s.log)
    IN IF s.role # (IF m.pre THEN "PreCandidate" ELSE "Candidate") \/ m.from \notin c.voters
       THEN Result(s, {})
       ELSE
         LET s1 == IF m.from \in s.granted \cup s.rejected THEN s
                   ELSE IF m.granted THEN [s EXCEPT !.granted = @ \cup {m.from}]
                   ELSE [s EXCEPT !.rejected = @ \cup {m.from}]
         IN IF Cardinality(s1.granted) >= Quorum(c)
            THEN IF m.pre THEN CampaignVote(s1, i, d, FALSE) ELSE BecomeLeader(s1, i, d)
            ELSE IF Cardinality(s1.rejected) >= Quorum(c)
                 THEN Result(BecomeFollower(s1, s1.term, Nil), {})
                 ELSE Result(s1, {})

-----------------------------------------------------------------------------
(* Raft::step: the term rules, then the handler. A set of outcomes: a node in its     *)
(* check-quorum lease may ignore a vote request from a higher term (time is abstract). *)

HigherTerm(s, i, d, m) ==
    CASE m.type = "VoteReq" ->
           {IF lease
            THEN LET w == IF s.role = "Follower" /\ s.fsusp THEN WakeFollower(s, i, d) ELSE Result(s, {})
                 IN [s |-> w.s, out |-> w.out, go |-> FALSE]
            ELSE [s |-> IF m.pre THEN s ELSE BecomeFollower(s, m.term, Nil), out |-> {}, go |-> TRUE]
            : lease \in IF s.leader # Nil /\ ~m.transfer THEN {TRUE, FALSE} ELSE {FALSE}}
      [] m.type = "VoteResp" /\ m.pre /\ m.granted -> {[s |-> s, out |-> {}, go |-> TRUE]}
      [] m.type \in {"SyncResp", "SyncReject", "NotifySync", "TimeoutNow"} ->
           {[s |-> BecomeFollower(s, m.term, m.from), out |-> {}, go |-> TRUE]}
      [] OTHER -> {[s |-> BecomeFollower(s, m.term, Nil), out |-> {}, go |-> TRUE]}

\* Raft::step_lower_term
LowerTerm(s, i, d, m) ==
    CASE m.type = "VoteReq" /\ m.pre -> Result(s, {VoteRespMsg(i, m.from, s.term, TRUE, FALSE)})
      [] m.type = "SyncReq" /\ s.role = "Leader" -> Result(s, {NotifyMsg(i, m.from, s.term, s.commit)})
      [] m.type \in {"SyncResp", "NotifySync", "SyncReject"} ->
           Result(s, {SyncReqMsg(i, m.from, s.term, Len(s.log) + 1, LastTerm(s.log), StoredIndex(s, d))})
      [] OTHER -> Result(s, {})

Dispatch(s, i, d, m) ==
    CASE m.type = "VoteReq" -> HandleVoteReq(s, i, m)
      [] m.type = "VoteResp" -> HandleVoteResp(s, i, d, m)
      [] s.role = "Leader" -> IF m.type = "SyncReq" THEN HandleSyncReq(s, i, d, m) ELSE Result(s, {})
      [] OTHER -> StepFollower(s, i, d, m)

Handle(s, i, d, m) ==
    LET pre == IF m.term > s.term THEN HigherTerm(s, i, d, m) ELSE {[s |-> s, out |-> {}, go |-> TRUE]}
    IN {IF ~p.go THEN Result(p.s, p.out)
        ELSE IF m.term < p.s.term THEN LowerTerm(p.s, i, d, m)
        ELSE LET r == Dispatch(p.s, i, d, m) IN Result(r.s, r.out \cup p.out)
        : p \in pre}

-----------------------------------------------------------------------------
(* History, for the invariants *)

Leaders(s) == {<<s[j].term, j>> : j \in {k \in Server : s[k].role = "Leader"}}

UpdateHist == hist' = [elected |-> hist.elected \cup Leaders(st')]

\* Every action changes node i to r.s and sends r.out.
ApplyDropping(i, r, gone) ==
    /\ st' = [st EXCEPT ![i] = r.s]
    /\ msgs' = (msgs \ gone) \cup r.out
    /\ UpdateHist
Apply(i, r) == ApplyDropping(i, r, {})

-----------------------------------------------------------------------------
(* Actions, one per trace event (README.md maps them to the Rust functions). *)

\* Receiving leaves the message in the network (it may be delivered again) unless `consume`.
ReceiveOnce(i, m, consume) ==
    /\ m \in msgs
    /\ m.to = i
    /\ \E r \in Handle(st[i], i, dur[i], m) : ApplyDropping(i, r, IF consume THEN {m} ELSE {})
    /\ UNCHANGED <<dur, pending>>

Receive(i, m) == ReceiveOnce(i, m, FALSE)

\* Loses a message.
Drop(m) == msgs' = msgs \ {m} /\ UNCHANGED <<st, dur, pending, hist>>

Timeout(i) ==
    /\ CanCampaign(st[i], i)
    /\ Apply(i, CampaignPre(st[i], i, dur[i]))
    /\ UNCHANGED <<dur, pending>>

SyncRetry(i) ==
    /\ st[i].role = "Follower" /\ st[i].leader # Nil /\ ~st[i].syncAfter
    /\ Apply(i, SendSyncReq(st[i], i, dur[i]))
    /\ UNCHANGED <<dur, pending>>

\* Answers every parked request; tells `susp` (caught-up, idle followers) to suspend;
\* re-notifies the members it has no request from.
Heartbeat(i, susp) ==
    LET s == st[i]
        parked == {j \in s.tracked : s.parked[j].on}
        idle == s.commit = Len(s.log) /\ s.transferee = Nil
        eligible == IF idle THEN {j \in parked : s.pstored[j] = Len(s.log)} ELSE {}
        a == AnswerAll(s, i, parked, susp)
        renotify == {j \in s.tracked \ parked : ~(j \in s.lsusp /\ s.pstored[j] >= Len(s.log))}
    IN /\ s.role = "Leader"
       /\ susp \subseteq eligible
       /\ Apply(i, Result(a.s, a.out \cup {NotifyMsg(i, j, s.term, s.commit) : j \in renotify}))
       /\ UNCHANGED <<dur, pending>>

StepDown(i) ==
    /\ st[i].role = "Leader"
    /\ Apply(i, Result(BecomeFollower(st[i], st[i].term, Nil), {}))
    /\ UNCHANGED <<dur, pending>>

TransferAbort(i) ==
    /\ st[i].role = "Leader" /\ st[i].transferee # Nil
    /\ Apply(i, Result([st[i] EXCEPT !.transferee = Nil], {}))
    /\ UNCHANGED <<dur, pending>>

CanPropose(s) == s.role = "Leader" /\ s.transferee = Nil

Propose(i) ==
    /\ CanPropose(st[i])
    /\ Apply(i, AppendEntry(st[i], i, Entry(st[i].term, "cmd", NoConf)))
    /\ UNCHANGED <<dur, pending>>

\* The memberships one single-step change away (Membership::apply), with the leader's
\* rules: a learner is promoted once it has caught up to the commit index.
NextConfs(s, i) ==
    LET c == ConfOf(i, s.log) IN
       {[voters |-> c.voters \cup {x}, learners |-> c.learners \ {x}] : x \in Server \ c.voters}
    \cup {[voters |-> c.voters, learners |-> c.learners \cup {x}] : x \in Server \ Members(c)}
    \cup {[voters |-> c.voters \cup {x}, learners |-> c.learners \ {x}]
            : x \in {y \in c.learners : s.pstored[y] >= s.commit}}
    \cup {[voters |-> c.voters \ {x}, learners |-> c.learners \ {x}]
            : x \in {y \in Members(c) : c.voters \ {y} # {}}}

ProposeMembership(i, conf) ==
    LET s == st[i] IN
    /\ CanPropose(s)
    /\ ~PendingConf(s)
    /\ TermAt(s.log, s.commit) = s.term   \* the leader has committed in its own term
    /\ conf \in NextConfs(s, i)
    /\ Apply(i, AppendEntry(s, i, Entry(s.term, "conf", conf)))
    /\ UNCHANGED <<dur, pending>>

TransferLeader(i, j) ==
    LET s == st[i]
        s1 == [s EXCEPT !.transferee = j, !.lsusp = @ \ {j}]
        wake == IF j \in s.lsusp THEN {NotifyMsg(i, j, s.term, s.commit)} ELSE {}
        now == IF j \in s.tracked /\ s.pstored[j] = Len(s.log) THEN {TimeoutNowMsg(i, j, s.term)} ELSE {}
    IN /\ s.role = "Leader" /\ j # i /\ j \in ConfOf(i, s.log).voters
       /\ Apply(i, Result(s1, wake \cup now))
       /\ UNCHANGED <<dur, pending>>

Wake(i) ==
    LET s == st[i] IN
    /\ Apply(i, IF s.role = "Leader" THEN WakeSuspended(s, i) ELSE WakeFollower(s, i, dur[i]))
    /\ UNCHANGED <<dur, pending>>

\* RawNode::ready: answer parked requests that have something new, build the follower's
\* ack (sent after persist), and hand out the log and hard state to write.
Ready(i) ==
    LET s == st[i]
        answer == {j \in s.tracked : s.parked[j].on /\ (s.parked[j].next <= Len(s.log) \/ s.csent[j] < s.commit)}
        a == IF s.role = "Leader" THEN AnswerAll(s, i, answer, {}) ELSE Result(s, {})
        s1 == a.s
        ack == s1.syncAfter /\ s1.role = "Follower" /\ s1.leader # Nil
        s2 == [s1 EXCEPT !.syncAfter = FALSE,
                         !.expect = IF ack THEN Len(s1.log) + 1 ELSE @,
                         !.outbox = IF ack THEN @ \cup {SyncReqMsg(i, s1.leader, s1.term, Len(s1.log) + 1,
                                                                   LastTerm(s1.log), Len(s1.log))}
                                    ELSE @]
    IN /\ ~pending[i].on
       /\ pending' = [pending EXCEPT ![i] = [on |-> TRUE, log |-> s2.log, term |-> s2.term, vote |-> s2.vote,
                                              commit |-> s2.commit, out |-> s2.outbox, from |-> s2.stable + 1]]
       /\ Apply(i, Result([s2 EXCEPT !.outbox = {}], a.out))
       /\ UNCHANGED dur

\* The driver wrote the Ready (one fsync), sent what waited for it, and called advance.
Persist(i) ==
    LET p == pending[i]
        s == st[i]
        written == {w \in Max2(p.from, s.stable + 1)..Min2(Len(p.log), Len(s.log)) : s.log[w].term = p.log[w].term}
        s1 == IF written = {} THEN s ELSE [s EXCEPT !.stable = Max(written)]
        d1 == [log |-> p.log, term |-> p.term, vote |-> p.vote, commit |-> p.commit]
        s2 == IF s1.role = "Leader" THEN MaybeCommit(s1, i, d1) ELSE s1
    IN /\ p.on
       /\ dur' = [dur EXCEPT ![i] = d1]
       /\ pending' = [pending EXCEPT ![i] = NoPending]
       /\ Apply(i, Result(s2, p.out))

\* The node crashes and restarts from what is durable; whatever was not persisted is lost.
Crash(i) ==
    /\ st' = [st EXCEPT ![i] = Fresh(dur[i].term, dur[i].vote, dur[i].log, dur[i].commit)]
    /\ pending' = [pending EXCEPT ![i] = NoPending]
    /\ UNCHANGED <<dur, msgs>>
    /\ UpdateHist

-----------------------------------------------------------------------------

Init ==
    /\ st = [i \in Server |-> Fresh(0, Nil, <<>>, 0)]
    /\ dur = [i \in Server |-> [log |-> <<>>, term |-> 0, vote |-> Nil, commit |-> 0]]
    /\ pending = [i \in Server |-> NoPending]
    /\ msgs = {}
    /\ hist = [elected |-> {}]

NodeNext(i) ==
    \/ Timeout(i) \/ SyncRetry(i) \/ StepDown(i) \/ TransferAbort(i)
    \/ \E susp \in SUBSET Server : Heartbeat(i, susp)
    \/ Propose(i)
    \/ \E conf \in NextConfs(st[i], i) : ProposeMembership(i, conf)
    \/ \E j \in Server : TransferLeader(i, j)
    \/ Wake(i) \/ Ready(i) \/ Persist(i) \/ Crash(i)

\* Messages stay in the network once sent (any of them can be delivered again, or never):
\* the trace checker's view.
Next ==
    \E i \in Server :
        \/ \E m \in msgs : Receive(i, m)
        \/ NodeNext(i)

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Invariants *)

TypeOK ==
    /\ \A i \in Server : st[i].role \in Roles /\ st[i].commit <= Len(st[i].log)

\* At most one leader per term, ever.
ElectionSafety ==
    \A a, b \in hist.elected : a[1] = b[1] => a[2] = b[2]

\* Same index and term: same entry and same log before it.
LogMatching ==
    \A i, j \in Server : \A n \in 1..Min2(Len(st[i].log), Len(st[j].log)) :
        st[i].log[n].term = st[j].log[n].term =>
            SubSeq(st[i].log, 1, n) = SubSeq(st[j].log, 1, n)

\* What node i knows committed, in memory or durably, with the term it knew it in: such an
\* entry was committed in that term or earlier.
KnownCommitted(i) ==
    {<<n, st[i].log[n], st[i].term>> : n \in 1..st[i].commit}
    \cup {<<n, dur[i].log[n], dur[i].term>> : n \in 1..dur[i].commit}

\* A leader holds every entry committed in an earlier term (Raft §5.4.1).
LeaderCompleteness ==
    \A i, j \in Server : st[j].role = "Leader" =>
        \A c \in KnownCommitted(i) : c[3] < st[j].term =>
            c[1] <= Len(st[j].log) /\ st[j].log[c[1]] = c[2]

\* Committed entries are never lost or changed: all nodes agree on every index that any two
\* of them know committed, in memory or on disk.
CommittedNeverChanges ==
    \A i, j \in Server : \A a \in KnownCommitted(i) : \A b \in KnownCommitted(j) :
        a[1] = b[1] => a[2] = b[2]

=============================================================================
