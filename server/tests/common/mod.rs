//! A server on free loopback ports in a temporary directory, and a small HTTP client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::Value;
use server::config::Config;
use server::server::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct TestServer {
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
    pub config: Config,
}

/// A config for tests: free ports on loopback, data in `dir`.
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config {
        root_dir: PathBuf::from(dir),
        http_addr: "127.0.0.1:0".into(),
        addr: "tcp://127.0.0.1:0".into(),
        ws_addr: "ws://127.0.0.1:0".into(),
        ..Config::default()
    };
    config.manager.addr = "127.0.0.1:0".into();
    config.cluster.tick_interval_ms = 50;
    config.logger.level = "warn".into();
    config
}

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path());
        TestServer::start_with(dir, config).await
    }

    pub async fn start_with(dir: tempfile::TempDir, config: Config) -> TestServer {
        let server = Server::start(config.clone()).await.expect("the server starts");
        TestServer { server: Some(server), dir, config }
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.server.as_ref().unwrap().http_addr
    }

    /// Stops the server and starts it again on the same data (new ports).
    pub async fn restart(&mut self) {
        self.server.take().unwrap().stop().await;
        self.server = Some(Server::start(self.config.clone()).await.expect("the server restarts"));
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        request(self.http_addr(), "POST", path, Some(&body.to_string()), &[]).await
    }

    pub async fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        request(self.http_addr(), "POST", path, Some(body), &[]).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        request(self.http_addr(), "GET", path, None, &[]).await
    }
}

/// One HTTP/1.1 request on a fresh connection; the body parsed as JSON (`Value::Null` when
/// empty, a JSON string when not JSON).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let (status, body) = request_text(addr, method, path, body, headers).await;
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or(Value::String(body))
    };
    (status, value)
}

pub async fn request_text(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or("");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete HTTP response");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
