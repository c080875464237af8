//! A minimal HTTP/1.1 JSON client over a tokio `TcpStream`, for the server's setup API
//! (`shared/reference/wukongim.md` §1): one request per connection (`Connection: close`),
//! a JSON body out, status and JSON body back, `Content-Length` or chunked.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wkclient::http::HttpError> {
//! use serde_json::json;
//! let http = wkclient::http::HttpClient::new("127.0.0.1:5001");
//! http.user_token("u1", "t1", 0, 1).await?;
//! http.create_channel("g1", 2, &["u1".to_string(), "u2".to_string()]).await?;
//! let response = http.post("/conversation/sync", &json!({"uid": "u1", "msg_count": 1})).await?;
//! assert_eq!(response.status, 200);
//! # Ok(()) }
//! ```

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes of one response at most. The largest setup answer (a message sync of a few
/// thousand messages) is a few MiB; 64 MiB only stops a runaway.
pub const RESPONSE_BYTES_MAX: usize = 64 << 20;

/// How long one request may take, connect to last byte. A local server answers setup calls
/// in milliseconds; a raft-replicated write in tens. 30 s bounds a hung server.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Uids per `subscriber_add` / `POST /channel` request in the helpers. The server takes up
/// to 10,000 (`UIDS_PER_REQUEST_MAX` in `server/src/service/channel_input.rs`); 2,000 keeps
/// each request body near 30 KiB.
pub const SUBSCRIBERS_PER_REQUEST: usize = 2_000;

/// What can go wrong with one HTTP call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("no response within {REQUEST_TIMEOUT:?}")]
    Timeout,
    /// The response is not HTTP/1.1 as this client reads it.
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("response larger than {RESPONSE_BYTES_MAX} bytes")]
    TooLarge,
    /// The server answered, but not with success (HTTP status not 2xx, or a JSON `status`
    /// other than 200). Only the helpers return this; `post`/`get` hand back any status.
    #[error("{path}: HTTP {status}: {body}")]
    Status { path: String, status: u16, body: Value },
}

/// A response: the HTTP status and the body parsed as JSON (`Value::Null` when empty,
/// `Value::String` of the text when it is not JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    pub body: Value,
}

impl Response {
    /// HTTP 2xx and, when the body has a numeric `status` (WuKongIM's envelope), 200.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
            && !matches!(self.body.get("status").and_then(Value::as_u64), Some(status) if status != 200)
    }
}

/// The server's HTTP API at one address (`host:port`).
#[derive(Clone, Debug)]
pub struct HttpClient {
    addr: String,
    /// Sent as the `token` header (the server's `managerToken`), when set.
    manager_token: Option<String>,
}

impl HttpClient {
    pub fn new(addr: impl Into<String>) -> HttpClient {
        HttpClient { addr: addr.into(), manager_token: None }
    }

    /// Sends `token: <manager_token>` with every request.
    pub fn with_manager_token(mut self, manager_token: impl Into<String>) -> HttpClient {
        self.manager_token = Some(manager_token.into());
        self
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Response, HttpError> {
        self.request("POST", path, Some(body)).await
    }

    /// `GET path` (with its query string).
    pub async fn get(&self, path: &str) -> Result<Response, HttpError> {
        self.request("GET", path, None).await
    }

    /// `post`, and an error unless [`Response::is_success`].
    pub async fn post_ok(&self, path: &str, body: &Value) -> Result<Response, HttpError> {
        let response = self.post(path, body).await?;
        if !response.is_success() {
            return Err(HttpError::Status {
                path: path.to_owned(),
                status: response.status,
                body: response.body,
            });
        }
        Ok(response)
    }

    /// `POST /user/token {uid, token, device_flag, device_level}` (level 1 = master).
    pub async fn user_token(
        &self,
        uid: &str,
        token: &str,
        device_flag: u8,
        device_level: u8,
    ) -> Result<(), HttpError> {
        let body =
            json!({"uid": uid, "token": token, "device_flag": device_flag, "device_level": device_level});
        self.post_ok("/user/token", &body).await.map(drop)
    }

    /// `POST /channel {channel_id, channel_type, subscribers}` with the first
    /// [`SUBSCRIBERS_PER_REQUEST`] subscribers, then `subscriber_add` for the rest.
    pub async fn create_channel(
        &self,
        channel_id: &str,
        channel_type: u8,
        subscribers: &[String],
    ) -> Result<(), HttpError> {
        let (first, rest) = subscribers.split_at(subscribers.len().min(SUBSCRIBERS_PER_REQUEST));
        let body = json!({"channel_id": channel_id, "channel_type": channel_type, "subscribers": first});
        self.post_ok("/channel", &body).await?;
        self.subscriber_add(channel_id, channel_type, rest).await
    }

    /// `POST /channel/subscriber_add`, [`SUBSCRIBERS_PER_REQUEST`] uids per request.
    pub async fn subscriber_add(
        &self,
        channel_id: &str,
        channel_type: u8,
        subscribers: &[String],
    ) -> Result<(), HttpError> {
        for chunk in subscribers.chunks(SUBSCRIBERS_PER_REQUEST) {
            let body = json!({"channel_id": channel_id, "channel_type": channel_type, "subscribers": chunk});
            self.post_ok("/channel/subscriber_add", &body).await?;
        }
        Ok(())
    }

    async fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Response, HttpError> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(method, path, body))
            .await
            .unwrap_or(Err(HttpError::Timeout))
    }

    async fn exchange(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Response, HttpError> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        if let Some(token) = &self.manager_token {
            request.push_str(&format!("token: {token}\r\n"));
        }
        if method != "GET" || !body.is_empty() {
            request
                .push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        let mut stream = TcpStream::connect(&self.addr).await?;
        stream.write_all(request.as_bytes()).await?;
        stream.flush().await?;
        let mut raw = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            if raw.len() + n > RESPONSE_BYTES_MAX {
                return Err(HttpError::TooLarge);
            }
            raw.extend_from_slice(&chunk[..n]);
            if response_complete(&raw)? {
                break;
            }
        }
        parse_response(&raw)
    }
}

/// Where the head ends (the index after `\r\n\r\n`).
fn head_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// The head's status code and framing: `Content-Length`, or chunked.
struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
}

fn parse_head(head: &[u8]) -> Result<Head, HttpError> {
    let head = std::str::from_utf8(head).map_err(|_| HttpError::Malformed("head is not UTF-8".into()))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed(format!("status line {status_line:?}")));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| HttpError::Malformed(format!("status line {status_line:?}")))?;
    let mut parsed = Head { status, content_length: None, chunked: false };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            parsed.content_length =
                Some(value.parse().map_err(|_| HttpError::Malformed(format!("Content-Length {value:?}")))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            parsed.chunked = true;
        }
    }
    Ok(parsed)
}

/// Whether `raw` holds the whole response, so the client need not wait for the close.
fn response_complete(raw: &[u8]) -> Result<bool, HttpError> {
    let Some(end) = head_end(raw) else { return Ok(false) };
    let head = parse_head(&raw[..end])?;
    if head.chunked {
        return Ok(decode_chunked(&raw[end..])?.is_some());
    }
    Ok(head.content_length.is_some_and(|len| raw.len() - end >= len))
}

/// The body of a chunked response, `None` when the last chunk has not arrived yet.
fn decode_chunked(mut rest: &[u8]) -> Result<Option<Vec<u8>>, HttpError> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
        let size_text =
            std::str::from_utf8(&rest[..line_end]).map_err(|_| HttpError::Malformed("chunk size".into()))?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| HttpError::Malformed(format!("chunk size {size_text:?}")))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// Status and JSON body of a whole response (or of what came before the server closed).
fn parse_response(raw: &[u8]) -> Result<Response, HttpError> {
    let end = head_end(raw).ok_or_else(|| HttpError::Malformed("no end of head".into()))?;
    let head = parse_head(&raw[..end])?;
    let rest = &raw[end..];
    let body = if head.chunked {
        decode_chunked(rest)?.ok_or_else(|| HttpError::Malformed("chunked body cut short".into()))?
    } else if let Some(len) = head.content_length {
        rest.get(..len)
            .ok_or_else(|| HttpError::Malformed("body shorter than Content-Length".into()))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    Ok(Response { status: head.status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_and_chunked_bodies() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 14\r\n\r\n{\"status\":200}";
        assert!(response_complete(plain).unwrap());
        assert!(!response_complete(&plain[..plain.len() - 1]).unwrap());
        let response = parse_response(plain).unwrap();
        assert_eq!(response, Response { status: 200, body: json!({"status": 200}) });
        assert!(response.is_success());

        let chunked = b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"msg\r\n15;x=1\r\n\":\"bad\",\"status\":400}\r\n0\r\n\r\n";
        assert!(response_complete(chunked).unwrap());
        assert!(!response_complete(&chunked[..chunked.len() - 5]).unwrap());
        let response = parse_response(chunked).unwrap();
        assert_eq!(response.status, 400);
        assert_eq!(response.body, json!({"msg": "bad", "status": 400}));
        assert!(!response.is_success());

        let envelope =
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{\"status\":404}").unwrap();
        assert!(!envelope.is_success());
        let empty = parse_response(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n").unwrap();
        assert_eq!(empty.body, Value::Null);
        assert!(parse_response(b"garbage\r\n\r\n").is_err());
    }

    #[tokio::test]
    async fn a_request_over_a_loopback_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.ends_with(b"\"u1\"}") {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "request cut short: {:?}", String::from_utf8_lossy(&request));
                request.extend_from_slice(&buf[..n]);
            }
            let reply =
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\ne\r\n{\"status\":200}\r\n0\r\n\r\n";
            socket.write_all(reply).await.unwrap();
            String::from_utf8(request).unwrap()
        });
        let http = HttpClient::new(addr);
        let response = http.post("/user/token", &json!({"uid": "u1"})).await.unwrap();
        assert!(response.is_success());
        let request = server.await.unwrap();
        assert!(request.starts_with("POST /user/token HTTP/1.1\r\n"), "{request}");
        assert!(request.contains("Content-Length: 12\r\n"), "{request}");
        assert!(request.contains("Connection: close\r\n"), "{request}");
    }
}
