---------------------------- MODULE MCPullRaft ----------------------------
(***************************************************************************)
(* Model checking PullRaft with small bounds. Here a delivered message is  *)
(* consumed (or, WithDuplicates, may stay in flight), and the bounds are   *)
(* on terms, log length, messages in flight and faults (message drops,     *)
(* crashes, check-quorum step-downs), so that TLC reaches elections in     *)
(* several terms, truncation, suspension and membership changes while the  *)
(* exhaustive search stays within minutes.                                 *)
(***************************************************************************)
EXTENDS PullRaft

CONSTANTS MaxTerm, MaxLogLen, MaxInFlight, MaxFaults,
          MaxTimers,       \* timer-driven actions: timeouts, heartbeats, sync retries, wakes
          WithMembership,  \* FALSE leaves membership changes and transfers out, to go deeper
          WithDuplicates   \* TRUE lets a delivered message stay in flight (a duplicate)

VARIABLES faults, timers

mcvars == <<vars, faults, timers>>

Fault(A) == A /\ faults' = faults + 1 /\ UNCHANGED timers
Timer(A) == A /\ timers' = timers + 1 /\ UNCHANGED faults
NoFault(A) == A /\ UNCHANGED <<faults, timers>>

\* The driver takes a Ready only when there is something in it (RawNode::has_ready).
HasWork(i) ==
    LET s == st[i] IN
    \/ s.outbox # {} \/ s.syncAfter
    \/ s.log # dur[i].log \/ s.term # dur[i].term \/ s.vote # dur[i].vote \/ s.commit # dur[i].commit
    \/ s.role = "Leader" /\ \E j \in s.tracked :
          s.parked[j].on /\ (s.parked[j].next <= Len(s.log) \/ s.csent[j] < s.commit)

MCNodeNext(i) ==
    \/ NoFault(Propose(i) \/ Persist(i))
    \/ NoFault(HasWork(i) /\ Ready(i))
    \/ Timer(Timeout(i) \/ SyncRetry(i))
    \/ Timer(\E susp \in SUBSET Server : Heartbeat(i, susp))
    \* Waking a node that is not suspended is a SyncRetry; leave it out.
    \/ Timer((st[i].fsusp \/ st[i].lsusp # {}) /\ Wake(i))
    \/ Fault(StepDown(i) \/ Crash(i))
    \/ WithMembership /\ NoFault(
         \/ \E conf \in NextConfs(st[i], i) : ProposeMembership(i, conf)
         \/ \E j \in Server : TransferLeader(i, j)
         \/ TransferAbort(i))

MCNext ==
    \/ \E i \in Server : \E m \in msgs :
         \E consume \in IF WithDuplicates THEN BOOLEAN ELSE {TRUE} : NoFault(ReceiveOnce(i, m, consume))
    \/ \E m \in msgs : NoFault(Drop(m))
    \/ \E i \in Server : MCNodeNext(i)

MCInit == Init /\ faults = 0 /\ timers = 0

MCSpec == MCInit /\ [][MCNext]_mcvars

\* Servers are interchangeable when all of them start as voters.
Symmetry == Permutations(Server)

Bounds ==
    /\ \A i \in Server : st[i].term <= MaxTerm /\ Len(st[i].log) <= MaxLogLen
    /\ Cardinality(msgs) <= MaxInFlight
    /\ faults <= MaxFaults
    /\ timers <= MaxTimers
=============================================================================
