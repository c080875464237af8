--------------------------- MODULE TracePullRaft ---------------------------
(***************************************************************************)
(* Trace validation: does the Rust core's trace (TraceData.tla, written by *)
(* the simulator) describe a behaviour of PullRaft? Each trace event names *)
(* one spec action and carries the node's state after it; TNext takes the  *)
(* action only if the spec can produce that state. A received message must *)
(* have been sent by an earlier action, field for field. The trace is      *)
(* valid iff TLC reaches l = Len(Trace) + 1, which it reports as a         *)
(* violation of the invariant NotDone (the 2020 TLC has no TLCGet, so this *)
(* is the way to ask whether the end is reachable; validate.sh inverts the *)
(* verdict).                                                               *)
(***************************************************************************)
EXTENDS PullRaft, TraceData

VARIABLE l

TraceServer == TraceServers
TraceVoters == TraceInitVoters

tvars == <<vars, l>>

\* The node's state after the event, as logged.
Post(e) ==
    LET s == st'[e.n] IN
    /\ s.term = e.term
    /\ s.vote = e.vote
    /\ s.role = e.role
    /\ s.leader = e.leader
    /\ s.commit = e.commit
    /\ Len(s.log) = e.last
    /\ LastTerm(s.log) = e.lastTerm

Step(e) ==
    \/ e.ev = "Receive" /\ Receive(e.n, e.msg)
    \/ e.ev = "Timeout" /\ Timeout(e.n)
    \/ e.ev = "SyncRetry" /\ SyncRetry(e.n)
    \/ e.ev = "Heartbeat" /\ Heartbeat(e.n, e.susp)
    \/ e.ev = "StepDown" /\ StepDown(e.n)
    \/ e.ev = "TransferAbort" /\ TransferAbort(e.n)
    \/ e.ev = "Propose" /\ Propose(e.n)
    \/ e.ev = "ProposeMembership" /\ ProposeMembership(e.n, e.conf)
    \/ e.ev = "TransferLeader" /\ TransferLeader(e.n, e.target)
    \/ e.ev = "Wake" /\ Wake(e.n)
    \/ e.ev = "Ready" /\ Ready(e.n)
    \/ e.ev = "Persist" /\ Persist(e.n)
    \/ e.ev = "Crash" /\ Crash(e.n)

TInit == Init /\ l = 1

TNext ==
    /\ l <= Len(Trace)
    /\ Step(Trace[l])
    /\ Post(Trace[l])
    /\ l' = l + 1

\* Violated exactly when the whole trace has been matched.
NotDone == l <= Len(Trace)

TView == <<st, dur, pending, msgs, l>>
=============================================================================
