//! Before the window: tokens over HTTP, groups over HTTP, then the logins; each a bounded
//! number at a time.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use wkclient::http::HttpClient;
use wkclient::{Client, ConnectOptions};

use super::plan::{ConnPlan, Plan};
use super::stats::{Counters, Stats};

/// HTTP setup calls in flight at most: each is a replicated write on the server; 32 keep its
/// group commit busy without queueing thousands of requests in its accept backlog.
const SETUP_CONCURRENCY: usize = 32;

/// Logins in flight at most: 256 stays well below the listen backlog (Linux's default
/// `somaxconn` is 4,096) while 19,000 logins still take only seconds.
const CONNECT_CONCURRENCY: usize = 256;

/// The token every bench uid gets.
pub fn token_of(uid: &str) -> String {
    format!("tok-{uid}")
}

/// Registers a token for every connecting uid (device flag APP, as the client logs in;
/// level master) and creates the plan's groups. Failures are counted, not fatal.
pub async fn http_setup(http: &HttpClient, plan: &Plan, no_auth: bool, stats: &Arc<Stats>) {
    let limit = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let mut calls = JoinSet::new();
    if !no_auth {
        for conn in &plan.conns {
            let (http, uid, limit, stats) = (http.clone(), conn.uid.clone(), limit.clone(), stats.clone());
            calls.spawn(async move {
                let _permit = limit.acquire().await.expect("never closed");
                if let Err(error) = http.user_token(&uid, &token_of(&uid), 0, 1).await {
                    eprintln!("imbench: token of {uid}: {error}");
                    Counters::add(&stats.counters.setup_errors);
                }
            });
        }
    }
    for group in &plan.groups {
        let (http, group, limit, stats) = (http.clone(), group.clone(), limit.clone(), stats.clone());
        calls.spawn(async move {
            let _permit = limit.acquire().await.expect("never closed");
            if let Err(error) = http.create_channel(&group.channel_id, 2, &group.members).await {
                eprintln!("imbench: group {}: {error}", group.channel_id);
                Counters::add(&stats.counters.setup_errors);
            }
        });
    }
    while calls.join_next().await.is_some() {}
}

/// Logs every planned connection in; returns the ones that made it, with their plan.
pub async fn connect_all(
    tcp: &str,
    plan: &Plan,
    version: u8,
    open_every: u32,
    stats: &Arc<Stats>,
) -> Vec<(Client, ConnPlan)> {
    let limit = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut logins = JoinSet::new();
    for conn in &plan.conns {
        let (tcp, conn, limit, stats) = (tcp.to_owned(), conn.clone(), limit.clone(), stats.clone());
        logins.spawn(async move {
            let _permit = limit.acquire().await.expect("never closed");
            let options = ConnectOptions {
                open_one_in: open_every,
                ..ConnectOptions::new(conn.uid.clone(), token_of(&conn.uid)).with_version(version)
            };
            match Client::connect(tcp.as_str(), options).await {
                Ok(client) => Some((client, conn)),
                Err(error) => {
                    if Counters::get(&stats.counters.connect_errors) == 0 {
                        eprintln!(
                            "imbench: login of {}: {error} (further login errors are only counted)",
                            conn.uid
                        );
                    }
                    Counters::add(&stats.counters.connect_errors);
                    None
                }
            }
        });
    }
    let mut clients = Vec::with_capacity(plan.conns.len());
    while let Some(joined) = logins.join_next().await {
        if let Ok(Some(client)) = joined {
            clients.push(client);
        }
    }
    clients
}
