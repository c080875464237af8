//! The script commands: parse a case's arguments and drive the environment.
//!
//! ```text
//! add-nodes N [voters=(..)] [learners=(..)] [election=T] [heartbeat=T] [sync-bytes=B]
//! campaign ID..            propose ID DATA          propose-membership ID CHANGE TARGET
//! transfer-leader FROM TO  wake ID..                (CHANGE: add-voter add-learner promote remove)
//! tick ID.. [n=N]          tick-heartbeat ID..      tick-election ID..
//! process-ready ID..       take-ready ID..          persist-ready ID..
//! deliver-msgs ID.. [drop=(..)]   drop-msgs ID..   dup-msgs ID..   stash-msgs ID..   release-msgs
//! stabilize [ID..]         cut A B                  isolate ID               heal
//! crash ID..               restart ID..             compact ID INDEX
//! status [ID..]            raft-log ID              log-level none|all
//! ```
//!
//! Node ids are positional arguments. Message commands take `type=Kind` and `from=ID`
//! filters. Mistakes in a script (unknown command, bad argument) panic; errors the core or
//! the environment reports are printed as `error: ...`.

use bytes::Bytes;
use consensus::{Config, LogIndex, Membership, MembershipChange, NodeId, Role};

use crate::env::{Env, MsgFilter};
use crate::script::TestCase;

pub fn handle(env: &mut Env, case: &TestCase) -> String {
    match run(env, case) {
        Ok(out) => out,
        Err(e) => format!("error: {e}"),
    }
}

fn run(env: &mut Env, case: &TestCase) -> Result<String, String> {
    let ids = positional_ids(case);
    let out = match case.cmd.as_str() {
        "log-level" => {
            env.quiet = case.args.first().is_some_and(|a| a.key == "none");
            String::new()
        }
        "add-nodes" => add_nodes(env, case),
        "campaign" => for_each(env, &ids, |env, id| env.raw(id).map(|raw| raw.campaign()))?,
        "propose" => {
            let data = Bytes::from(positional(case, 1).to_string());
            match env.raw(id_at(case, 0))?.propose(data) {
                Ok(index) => format!("index={index}"),
                Err(e) => format!("error: {e:?}"),
            }
        }
        "propose-membership" => propose_membership(env, case)?,
        "transfer-leader" => {
            env.raw(id_at(case, 0))?.transfer_leader(NodeId(id_at(case, 1)));
            String::new()
        }
        "wake" => for_each(env, &ids, |env, id| env.raw(id).map(|raw| raw.wake()))?,
        "tick" => {
            let n = key_u64(case, "n").unwrap_or(1);
            for_each(env, &ids, |env, id| tick(env, id, n))?
        }
        "tick-heartbeat" => for_each(env, &ids, |env, id| {
            let n = u64::from(env.nodes[&id].config().heartbeat_ticks);
            tick(env, id, n)
        })?,
        "tick-election" => for_each(env, &ids, tick_election)?,
        "process-ready" => each_with_header(env, &ids, "handling Ready", Env::process_ready)?,
        "take-ready" => each_with_header(env, &ids, "taking Ready", Env::take_ready)?,
        "persist-ready" => for_each(env, &ids, Env::persist_ready)?,
        "deliver-msgs" => {
            let filter = msg_filter(case);
            let mut out = String::new();
            for id in key_u64s(case, "drop") {
                out.push_str(&env.drop_msgs(id, &filter));
                out.push('\n');
            }
            out + &each_with_header(env, &ids, "receiving messages", |env, id| env.deliver(id, &filter))?
        }
        "drop-msgs" => join(ids.iter().map(|id| env.drop_msgs(*id, &msg_filter(case)))),
        "dup-msgs" => join(ids.iter().map(|id| env.duplicate_msgs(*id, &msg_filter(case)))),
        "stash-msgs" => join(ids.iter().map(|id| env.stash_msgs(*id, &msg_filter(case)))),
        "release-msgs" => env.release_msgs(),
        "stabilize" => {
            let ids = if ids.is_empty() { env.ids() } else { ids };
            env.stabilize(&ids)?
        }
        "cut" => {
            env.cut(id_at(case, 0), id_at(case, 1));
            String::new()
        }
        "isolate" => {
            env.isolate(id_at(case, 0));
            String::new()
        }
        "heal" => {
            env.heal();
            String::new()
        }
        "crash" => for_each(env, &ids, Env::crash)?,
        "restart" => for_each(env, &ids, Env::restart)?,
        "compact" => {
            env.compact(id_at(case, 0), LogIndex(id_at(case, 1)))?;
            String::new()
        }
        "status" => {
            let ids = if ids.is_empty() { env.ids() } else { ids };
            join(ids.iter().map(|id| env.status(*id)))
        }
        "raft-log" => env.raft_log(id_at(case, 0))?,
        cmd => panic!("{}: unknown command `{cmd}`", case.pos),
    };
    Ok(out)
}

/// `add-nodes N [voters=(..)] [learners=(..)] [election=10] [heartbeat=2] [sync-bytes=N]`:
/// N nodes with the next free ids, all starting from the given membership (an empty one
/// when neither list is given: a node that waits to be added by the leader).
fn add_nodes(env: &mut Env, case: &TestCase) -> String {
    let n = id_at(case, 0);
    let membership = Membership::new(key_u64s(case, "voters"), key_u64s(case, "learners"));
    for _ in 0..n {
        let mut config = Config::new(env.next_id());
        if let Some(ticks) = key_u64(case, "election") {
            config.election_ticks = ticks as u32;
        }
        if let Some(ticks) = key_u64(case, "heartbeat") {
            config.heartbeat_ticks = ticks as u32;
        }
        if let Some(bytes) = key_u64(case, "sync-bytes") {
            config.sync_resp_bytes_max = bytes as usize;
        }
        env.add_node(config, membership.clone());
    }
    String::new()
}

/// `propose-membership ID add-voter|add-learner|promote|remove TARGET`
fn propose_membership(env: &mut Env, case: &TestCase) -> Result<String, String> {
    let target = NodeId(id_at(case, 2));
    let change = match positional(case, 1) {
        "add-voter" => MembershipChange::AddVoter(target),
        "add-learner" => MembershipChange::AddLearner(target),
        "promote" => MembershipChange::PromoteLearner(target),
        "remove" => MembershipChange::Remove(target),
        other => panic!("{}: unknown membership change `{other}`", case.pos),
    };
    Ok(match env.raw(id_at(case, 0))?.propose_membership(change) {
        Ok(index) => format!("index={index}"),
        Err(e) => format!("error: {e:?}"),
    })
}

fn tick(env: &mut Env, id: u64, n: u64) -> Result<(), String> {
    let raw = env.raw(id)?;
    for _ in 0..n {
        raw.tick();
    }
    Ok(())
}

/// A leader: one check-quorum period. A follower: until its election timeout (randomized
/// in `[election, 2 * election)`) fires and it changes role or term, at most 2 * election
/// ticks. A (pre-)candidate: until it starts its next campaign, the only thing its ticks do.
fn tick_election(env: &mut Env, id: u64) -> Result<(), String> {
    let election = u64::from(env.nodes[&id].config().election_ticks);
    let raw = env.raw(id)?;
    let before = raw.status();
    match before.role {
        Role::Leader => return tick(env, id, election),
        Role::Follower => {}
        Role::PreCandidate | Role::Candidate if raw.has_ready() => {
            return Err(format!("node {id} has a Ready; process it before tick-election"));
        }
        Role::PreCandidate | Role::Candidate => {}
    }
    for _ in 0..2 * election {
        raw.tick();
        let now = raw.status();
        if now.role != before.role
            || now.term != before.term
            || (before.role != Role::Follower && raw.has_ready())
        {
            break;
        }
    }
    Ok(())
}

fn for_each<T>(
    env: &mut Env,
    ids: &[u64],
    mut f: impl FnMut(&mut Env, u64) -> Result<T, String>,
) -> Result<String, String> {
    for id in ids {
        f(env, *id)?;
    }
    Ok(String::new())
}

/// Runs `f` for each id, printing `> ID what` above each output when there are several.
fn each_with_header(
    env: &mut Env,
    ids: &[u64],
    what: &str,
    mut f: impl FnMut(&mut Env, u64) -> Result<String, String>,
) -> Result<String, String> {
    if ids.len() == 1 {
        return f(env, ids[0]);
    }
    let mut out = String::new();
    for id in ids {
        let text = f(env, *id)?;
        if !text.is_empty() {
            out.push_str(&format!("> {id} {what}\n"));
            out.extend(text.lines().map(|l| format!("  {l}\n")));
        }
    }
    Ok(out)
}

fn join(parts: impl Iterator<Item = String>) -> String {
    parts.filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n")
}

fn msg_filter(case: &TestCase) -> MsgFilter {
    let kind = case.args.iter().find(|a| a.key == "type").map(|a| a.vals[0].clone());
    MsgFilter { kind, from: key_u64(case, "from") }
}

fn positional(case: &TestCase, at: usize) -> &str {
    case.args
        .iter()
        .filter(|a| a.vals.is_empty())
        .nth(at)
        .map(|a| a.key.as_str())
        .unwrap_or_else(|| panic!("{}: `{}` needs argument {}", case.pos, case.cmd, at + 1))
}

fn id_at(case: &TestCase, at: usize) -> u64 {
    let word = positional(case, at);
    word.parse().unwrap_or_else(|_| panic!("{}: `{word}` is not a number", case.pos))
}

fn positional_ids(case: &TestCase) -> Vec<u64> {
    case.args.iter().filter(|a| a.vals.is_empty()).filter_map(|a| a.key.parse().ok()).collect()
}

fn key_u64s(case: &TestCase, key: &str) -> Vec<u64> {
    let Some(arg) = case.args.iter().find(|a| a.key == key) else { return Vec::new() };
    arg.vals
        .iter()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{}: `{key}={v}` is not a number", case.pos)))
        .collect()
}

fn key_u64(case: &TestCase, key: &str) -> Option<u64> {
    key_u64s(case, key).first().copied()
}
