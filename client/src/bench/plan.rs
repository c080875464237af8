//! A scenario as data: who gets a token, which groups exist with whom, who connects and
//! where each connection sends.

use wkclient::ChannelType;

use super::args::{Args, Scenario};

/// Connections at most: one socket each in this process, and these machines cap a process
/// at 20,000 open files; 19,000 leaves room for the HTTP setup sockets and the runtime.
pub const CONNS_MAX: usize = 19_000;
/// Members of one group at most in a plan: the server's group size is what is measured, but
/// setup time grows with it; 100,000 is ten times the stress report's large group.
const MEMBERS_MAX: usize = 100_000;
/// Groups at most (the `groups` scenario): setup is one HTTP call each.
const GROUPS_MAX: usize = 10_000;

/// One connection to open.
#[derive(Clone, Debug)]
pub struct ConnPlan {
    pub uid: String,
    /// Where it sends, if it sends.
    pub target: Option<(String, ChannelType)>,
}

/// A group to create before the run.
#[derive(Clone, Debug)]
pub struct GroupPlan {
    pub channel_id: String,
    pub members: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub groups: Vec<GroupPlan>,
    pub conns: Vec<ConnPlan>,
}

impl Plan {
    pub fn senders(&self) -> usize {
        self.conns.iter().filter(|conn| conn.target.is_some()).count()
    }
}

fn bounded(name: &str, value: usize, max: usize) -> Result<usize, String> {
    if value == 0 || value > max {
        return Err(format!("{name} must be in 1..={max}, not {value}"));
    }
    Ok(value)
}

/// The plan of `args.scenario`; every id starts with `prefix` so that runs against one
/// server do not meet.
pub fn plan(args: &Args, prefix: &str) -> Result<Plan, String> {
    match args.scenario {
        Scenario::Pairs => {
            let conns = bounded("--conns", args.conns.unwrap_or(1000), CONNS_MAX)? / 2 * 2;
            if conns == 0 {
                return Err("pairs needs at least 2 connections".into());
            }
            let uid = |i: usize| format!("{prefix}-p{i}");
            let conns = (0..conns)
                .map(|i| ConnPlan { uid: uid(i), target: Some((uid(i ^ 1), ChannelType::PERSON)) })
                .collect();
            Ok(Plan { groups: Vec::new(), conns })
        }
        Scenario::Groups => {
            let groups = bounded("--groups", args.groups.unwrap_or(100), GROUPS_MAX)?;
            let members = bounded("--members", args.members.unwrap_or(100), MEMBERS_MAX)?;
            bounded("--groups", groups, CONNS_MAX)?;
            let groups: Vec<GroupPlan> = (0..groups)
                .map(|g| GroupPlan {
                    channel_id: format!("{prefix}-g{g}"),
                    members: (0..members).map(|m| format!("{prefix}-g{g}m{m}")).collect(),
                })
                .collect();
            let conns = groups
                .iter()
                .map(|group| ConnPlan {
                    uid: group.members[0].clone(),
                    target: Some((group.channel_id.clone(), ChannelType::GROUP)),
                })
                .collect();
            Ok(Plan { groups, conns })
        }
        Scenario::BigGroup => {
            let members = bounded("--members", args.members.unwrap_or(10_000), MEMBERS_MAX)?;
            let online = bounded("--online", args.online.unwrap_or(5_000).min(members), CONNS_MAX)?;
            let senders = bounded("--senders", args.senders.unwrap_or(10).min(online), online)?;
            let group = GroupPlan {
                channel_id: format!("{prefix}-big"),
                members: (0..members).map(|m| format!("{prefix}-b{m}")).collect(),
            };
            let conns = group.members[..online]
                .iter()
                .enumerate()
                .map(|(i, uid)| ConnPlan {
                    uid: uid.clone(),
                    target: (i < senders).then(|| (group.channel_id.clone(), ChannelType::GROUP)),
                })
                .collect();
            Ok(Plan { groups: vec![group], conns })
        }
        Scenario::Idle => {
            let conns = bounded("--conns", args.conns.unwrap_or(1000), CONNS_MAX)?;
            let conns =
                (0..conns).map(|i| ConnPlan { uid: format!("{prefix}-i{i}"), target: None }).collect();
            Ok(Plan { groups: Vec::new(), conns })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::args::parse;
    use super::*;

    fn plan_of(line: &str) -> Plan {
        plan(&parse(line.split_whitespace().map(String::from)).unwrap(), "x").unwrap()
    }

    #[test]
    fn scenarios_match_the_stress_report() {
        let pairs = plan_of("--scenario pairs --conns 5");
        assert_eq!(pairs.conns.len(), 4);
        assert_eq!(pairs.conns[1].target.as_ref().unwrap().0, "x-p0");
        assert_eq!(pairs.senders(), 4);

        let groups = plan_of("--scenario groups");
        assert_eq!(
            (groups.groups.len(), groups.groups[0].members.len(), groups.conns.len()),
            (100, 100, 100)
        );
        assert_eq!(groups.conns[7].uid, groups.groups[7].members[0]);

        let big = plan_of("--scenario biggroup");
        assert_eq!((big.groups[0].members.len(), big.conns.len(), big.senders()), (10_000, 5_000, 10));

        let idle = plan_of("--scenario idle --conns 19000");
        assert_eq!((idle.conns.len(), idle.senders()), (19_000, 0));
        assert!(plan(&parse(["--conns", "19001"].map(String::from).into_iter()).unwrap(), "x").is_err());
    }
}
