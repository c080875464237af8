//! The `imserver` binary as users run it: configured by `WK_*` variables, stopped by
//! SIGTERM or SIGINT with exit code 0, and everything acknowledged before the signal is
//! there after a restart.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use serde_json::json;

/// Starts the binary on free loopback ports with its data in `dir`; returns it and the
/// HTTP API's address, read from the line it prints when ready.
fn start(dir: &std::path::Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_imserver"))
        .env("WK_ROOTDIR", dir)
        .env("WK_HTTPADDR", "127.0.0.1:0")
        .env("WK_ADDR", "tcp://127.0.0.1:0")
        .env("WK_WSADDR", "ws://127.0.0.1:0")
        .env("WK_MANAGER_ADDR", "127.0.0.1:0")
        .env("WK_LOGGER_LEVEL", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("imserver starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().expect("imserver prints its addresses").unwrap();
    let addr = line
        .split("HTTP API on http://")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (child, addr)
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn stops_cleanly_on_a_signal_and_keeps_what_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    for (round, signal_name) in ["TERM", "INT"].iter().enumerate() {
        let (mut child, addr) = start(dir.path());
        let (status, body) = common::request(addr, "GET", "/health", None, &[]).await;
        assert_eq!((status, body), (200, json!({"status": "ok"})));
        let channel = format!("g{round}");
        let create = json!({"channel_id": channel, "channel_type": 2, "subscribers": ["alice", "bob"]});
        let (status, body) = common::request(addr, "POST", "/channel", Some(&create.to_string()), &[]).await;
        assert_eq!((status, body), (200, json!({"status": 200})));
        signal(&child, signal_name);
        let exit = child.wait().unwrap();
        assert!(exit.success(), "SIG{signal_name} ends imserver with {exit}");

        let (mut child, addr) = start(dir.path());
        for earlier in 0..=round {
            let path = format!("/channel/subscribers?channel_id=g{earlier}&channel_type=2");
            let (status, body) = common::request(addr, "GET", &path, None, &[]).await;
            assert_eq!(status, 200, "{body}");
            let text = body.to_string();
            assert!(text.contains("alice") && text.contains("bob"), "g{earlier} after restart: {text}");
        }
        signal(&child, "TERM");
        assert!(child.wait().unwrap().success());
    }
}
