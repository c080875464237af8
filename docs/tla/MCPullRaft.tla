---------------------------- MODULE MCPullRaft ----------------------------
(***************************************************************************)
(* Model checking PullRaft exhaustively, with small bounds (the mc-*.cfg   *)
(* files; check.sh runs them all). The handlers are PullRaft's operators,  *)
(* unchanged; what this module changes is how coarse a step is, so that    *)
(* TLC can explore every state within the bounds in minutes:               *)
(*                                                                         *)
(* - A node's step is followed at once by its Ready and Persist (Settle):  *)
(*   a node never handles two events in one write, and never acts between  *)
(*   a Ready and its Persist. The exception is the fault StepCrash: the    *)
(*   node takes a step, sends what the step sends at once and what its     *)
(*   Ready answers (a leader sends entries before they are durable), and   *)
(*   crashes before the write, losing the step's effects. Messages that    *)
(*   wait for the write (votes, a follower's ack) are lost with it.        *)
(* - A delivered message is consumed, and a message replaces any message   *)
(*   in flight with the same type, sender and receiver (the older one is   *)
(*   lost; the network may lose any message). Messages that the receiver   *)
(*   can only ignore (vote messages and TimeoutNow from below its durable  *)
(*   term) are removed, which changes no behaviour.                        *)
(* - No check-quorum lease: a node in its lease ignores a vote request,    *)
(*   which is the same as losing the request.                              *)
(* - Optionally no pre-vote: a timeout starts a real election directly,    *)
(*   as a transfer (TimeoutNow) does.                                      *)
(* - A heartbeat tells either no follower or every eligible one to         *)
(*   suspend, not any subset.                                              *)
(* - Bounds: terms, log length, messages in flight, faults (crashes,       *)
(*   crashes in the middle of a step, step-downs), timeouts, and other     *)
(*   timer-driven actions (heartbeats, sync retries, wakes).               *)
(***************************************************************************)
EXTENDS PullRaft

CONSTANTS MaxTerm, MaxLogLen,
          MaxInFlight,       \* messages in flight
          MaxFaults,         \* Crash, StepCrash, step-down
          MaxTimeouts,       \* election timeouts
          MaxTimers,         \* heartbeats, sync retries, wakes
          WithPreVote,       \* FALSE: a timeout campaigns without pre-vote
          WithCrash,         \* crashes between steps
          WithCrashMidStep,  \* StepCrash
          WithMembership     \* membership changes and leadership transfers

VARIABLES faults, timeouts, timers

mcvars == <<vars, faults, timeouts, timers>>

-----------------------------------------------------------------------------
(* The network *)

Key(m) == <<m.type, m.from, m.to>>

\* Delivering it could only be ignored, now and after any restart (Raft::step_lower_term).
Dead(m) ==
    /\ \/ m.type \in {"VoteResp", "TimeoutNow"}
       \/ m.type = "VoteReq" /\ ~m.pre
    /\ m.term < dur'[m.to].term

\* Consumes `gone` and sends `out`; a message sent replaces one with its key.
Send(gone, out) ==
    LET keys == {Key(o) : o \in out}
        kept == {m \in msgs \ gone : Key(m) \notin keys}
    IN msgs' = {m \in kept \cup out : ~Dead(m)}

-----------------------------------------------------------------------------
(* Persistence *)

Answerable(s) ==
    IF s.role = "Leader"
    THEN {j \in s.tracked : s.parked[j].on /\ (s.parked[j].next <= Len(s.log) \/ s.csent[j] < s.commit)}
    ELSE {}

\* RawNode::has_ready
Dirty(s, d) ==
    \/ s.outbox # {} \/ s.syncAfter \/ Answerable(s) # {}
    \/ s.log # d.log \/ s.term # d.term \/ s.vote # d.vote \/ s.commit # d.commit

\* Ready and then Persist (PullRaft's actions, composed) on node i in state s, durable d:
\* the new state, what is sent, what is durable.
Settle(i, s, d) ==
    IF ~Dirty(s, d) THEN [s |-> s, out |-> {}, d |-> d]
    ELSE
      LET a == AnswerAll(s, i, Answerable(s), {})
          s1 == a.s
          ack == s1.syncAfter /\ s1.role = "Follower" /\ s1.leader # Nil
          ackMsg == IF ack
                    THEN {SyncReqMsg(i, s1.leader, s1.term, Len(s1.log) + 1, LastTerm(s1.log), Len(s1.log))}
                    ELSE {}
          s2 == [s1 EXCEPT !.syncAfter = FALSE,
                           !.expect = IF ack THEN Len(s1.log) + 1 ELSE @,
                           !.outbox = {},
                           !.stable = Len(s1.log)]
          d1 == [log |-> s2.log, term |-> s2.term, vote |-> s2.vote, commit |-> s2.commit]
          s3 == IF s2.role = "Leader" THEN MaybeCommit(s2, i, d1) ELSE s2
      IN [s |-> s3, out |-> a.out \cup s1.outbox \cup ackMsg, d |-> d1]

-----------------------------------------------------------------------------
(* What node i may do: each outcome is a handler's result r (new state and messages     *)
(* sent at once), the message it consumes, and the bound it counts against.             *)

O(r, gone, cost) == [r |-> r, gone |-> gone, cost |-> cost]

\* Raft::step, without the lease.
MCHandle(s, i, d, m) ==
    LET p == IF m.term > s.term THEN CHOOSE q \in HigherTerm(s, i, d, m) : q.go
             ELSE [s |-> s, out |-> {}, go |-> TRUE]
    IN IF m.term < p.s.term THEN LowerTerm(p.s, i, d, m)
       ELSE LET r == Dispatch(p.s, i, d, m) IN Result(r.s, r.out \cup p.out)

Receives(i) == {O(MCHandle(st[i], i, dur[i], m), {m}, "none") : m \in {m \in msgs : m.to = i}}

Timeouts(i) ==
    IF ~CanCampaign(st[i], i) THEN {}
    ELSE {O(IF WithPreVote THEN CampaignPre(st[i], i, dur[i]) ELSE CampaignVote(st[i], i, dur[i], FALSE),
            {}, "timeout")}

\* SyncRetry
Retries(i) ==
    LET s == st[i] IN
    IF s.role = "Follower" /\ s.leader # Nil /\ ~s.syncAfter
    THEN {O(SendSyncReq(s, i, dur[i]), {}, "timer")} ELSE {}

\* Heartbeat(i, susp) for susp = {} or every eligible follower.
Heartbeats(i) ==
    LET s == st[i]
        parked == {j \in s.tracked : s.parked[j].on}
        idle == s.commit = Len(s.log) /\ s.transferee = Nil
        eligible == IF idle THEN {j \in parked : s.pstored[j] = Len(s.log)} ELSE {}
        renotify == {j \in s.tracked \ parked : ~(j \in s.lsusp /\ s.pstored[j] >= Len(s.log))}
    IN IF s.role # "Leader" THEN {}
       ELSE {LET a == AnswerAll(s, i, parked, susp)
             IN O(Result(a.s, a.out \cup {NotifyMsg(i, j, s.term, s.commit) : j \in renotify}), {}, "timer")
             : susp \in {{}, eligible}}

\* Wake, of a node that is suspended or has suspended followers.
Wakes(i) ==
    LET s == st[i] IN
    IF s.fsusp \/ s.lsusp # {}
    THEN {O(IF s.role = "Leader" THEN WakeSuspended(s, i) ELSE WakeFollower(s, i, dur[i]), {}, "timer")}
    ELSE {}

Proposals(i) ==
    IF CanPropose(st[i]) THEN {O(AppendEntry(st[i], i, Entry(st[i].term, "cmd", NoConf)), {}, "none")} ELSE {}

StepDowns(i) ==
    IF st[i].role = "Leader" THEN {O(Result(BecomeFollower(st[i], st[i].term, Nil), {}), {}, "fault")} ELSE {}

\* ProposeMembership
Memberships(i) ==
    LET s == st[i] IN
    IF CanPropose(s) /\ ~PendingConf(s) /\ TermAt(s.log, s.commit) = s.term
    THEN {O(AppendEntry(s, i, Entry(s.term, "conf", conf)), {}, "none") : conf \in NextConfs(s, i)}
    ELSE {}

\* TransferLeader and TransferAbort
Transfers(i) ==
    LET s == st[i] IN
    IF s.role # "Leader" THEN {}
    ELSE {LET s1 == [s EXCEPT !.transferee = j, !.lsusp = @ \ {j}]
              wake == IF j \in s.lsusp THEN {NotifyMsg(i, j, s.term, s.commit)} ELSE {}
              now == IF j \in s.tracked /\ s.pstored[j] = Len(s.log) THEN {TimeoutNowMsg(i, j, s.term)} ELSE {}
          IN O(Result(s1, wake \cup now), {}, "none")
          : j \in ConfOf(i, s.log).voters \ {i}}
       \cup (IF s.transferee # Nil THEN {O(Result([s EXCEPT !.transferee = Nil], {}), {}, "none")} ELSE {})

Outcomes(i) ==
    Receives(i) \cup Timeouts(i) \cup Retries(i) \cup Heartbeats(i) \cup Wakes(i) \cup Proposals(i)
    \cup StepDowns(i) \cup (IF WithMembership THEN Memberships(i) \cup Transfers(i) ELSE {})

-----------------------------------------------------------------------------
(* Steps *)

Count(cost, extraFault) ==
    /\ faults' = faults + (IF cost = "fault" \/ extraFault THEN 1 ELSE 0)
    /\ timeouts' = timeouts + (IF cost = "timeout" THEN 1 ELSE 0)
    /\ timers' = timers + (IF cost = "timer" THEN 1 ELSE 0)

\* Node i takes outcome o and persists.
Step(i, o) ==
    LET y == Settle(i, o.r.s, dur[i]) IN
    /\ st' = [st EXCEPT ![i] = y.s]
    /\ dur' = [dur EXCEPT ![i] = y.d]
    /\ Send(o.gone, o.r.out \cup y.out)
    /\ UpdateHist
    /\ pending' = pending
    /\ Count(o.cost, FALSE)

\* Node i takes outcome o, sends what it sends at once and what its Ready answers, and
\* crashes before the write is durable. Only when that sends something: otherwise it is a
\* Crash before the step.
StepCrash(i, o) ==
    LET exposed == o.r.out \cup AnswerAll(o.r.s, i, Answerable(o.r.s), {}).out IN
    /\ WithCrashMidStep
    /\ Dirty(o.r.s, dur[i])
    /\ exposed # {}
    /\ st' = [st EXCEPT ![i] = Fresh(dur[i].term, dur[i].vote, dur[i].log, dur[i].commit)]
    /\ dur' = dur
    /\ Send(o.gone, exposed)
    /\ UpdateHist
    /\ pending' = pending
    /\ Count(o.cost, TRUE)

MCCrash(i) ==
    /\ WithCrash
    /\ Crash(i)
    /\ Count("fault", FALSE)

MCNext ==
    \E i \in Server :
        \/ \E o \in Outcomes(i) : Step(i, o) \/ StepCrash(i, o)
        \/ MCCrash(i)

MCInit == Init /\ faults = 0 /\ timeouts = 0 /\ timers = 0

MCSpec == MCInit /\ [][MCNext]_mcvars

\* The initial voters are interchangeable (spares, if any, are not permuted).
Symmetry == Permutations(InitVoters)

Bounds ==
    /\ \A i \in Server : st[i].term <= MaxTerm /\ Len(st[i].log) <= MaxLogLen
    /\ Cardinality(msgs) <= MaxInFlight
    /\ faults <= MaxFaults
    /\ timeouts <= MaxTimeouts
    /\ timers <= MaxTimers
=============================================================================
