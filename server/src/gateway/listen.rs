//! The gateway's sockets (real tokio only): the TCP, WebSocket and WSS listeners, and the task
//! that drives one [`Conn`] over its socket.
//!
//! The task owns the socket and the machine. It reads while the machine wants input, runs
//! the machine's logins and sends as futures of its own (a connection's sends to different
//! channels proceed together, those to one channel one after the other, in the order sent;
//! a slow send holds up nobody else), turns inbox messages into RECVs, and
//! writes what the machine hands out. A client that stops reading fills its machine's
//! bounded queue and is closed; the task never buffers beyond that bound.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::SinkExt;
use protocol::ReasonCode;
use tokio::io::{AsyncRead, AsyncWrite, Interest};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use super::conn::{
    CloseReason, Conn, ConnConfig, Event, Frame, Login, LoginOutcome, SendOutcome, SendToken, Transport,
};
use super::online::{InboxReceiver, LoginInfo, OverflowFlag};
use super::{ConnId, ToConn};
use crate::ids::now_ms;
use crate::service::messages::SendRequest;
use crate::service::{Node, ServiceError};

/// Sends to one channel started together at most (one append; far below
/// `MESSAGES_PER_COMMAND_MAX`). A client's send window is tens.
const SEND_BATCH_MAX: usize = 256;
/// Bytes taken from the machine into one TCP write at most.
const WRITE_CHUNK_BYTES: usize = 64 * 1024;
/// A WebSocket handshake must be done by then.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing connection's last frames (a DISCONNECT) may take to write.
const FINAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// After a failed accept (out of file descriptors, say), wait this long before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Bytes read from a socket per call, into a buffer shared by the connections of a thread:
/// an idle connection holds no read buffer of its own.
const READ_BYTES: usize = 64 * 1024;

thread_local! {
    static READ_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BYTES]);
}

/// What the listeners share.
#[derive(Clone)]
pub struct Gateway {
    pub node: Arc<Node>,
    pub config: Arc<ConnConfig>,
    /// Turns true when the node stops: every connection closes.
    pub stopping: watch::Receiver<bool>,
}

/// Accepts WKProto over TCP until the node stops.
pub async fn serve_tcp(listener: TcpListener, gateway: Gateway) {
    accept_loop(listener, gateway, "TCP", |stream, remote, gateway| async move {
        let mut reader = TcpRead { stream: &stream, eof: false };
        let mut writer = TcpWrite { stream: &stream, out: Vec::new(), written: 0 };
        drive(&gateway, &mut reader, &mut writer, Transport::Tcp, remote).await;
    })
    .await
}

/// Accepts WebSocket connections (any path) until the node stops.
pub async fn serve_ws(listener: TcpListener, gateway: Gateway) {
    accept_loop(listener, gateway, "WebSocket", |stream, remote, gateway| async move {
        let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
        serve_websocket(&gateway, stream, remote, deadline).await;
    })
    .await
}

/// Accepts WebSocket connections over TLS (any path) until the node stops: the TLS and then
/// the WebSocket handshake, both within one `HANDSHAKE_TIMEOUT`, then the same connection
/// as [`serve_ws`]'s.
pub async fn serve_wss(listener: TcpListener, gateway: Gateway, acceptor: TlsAcceptor) {
    accept_loop(listener, gateway, "WSS", move |stream, remote, gateway| {
        let acceptor = acceptor.clone();
        async move {
            let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
            let tls = match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => return tracing::debug!(%error, %remote, "TLS handshake failed"),
                Err(_) => return tracing::debug!(%remote, "TLS handshake timed out"),
            };
            serve_websocket(&gateway, tls, remote, deadline).await;
        }
    })
    .await
}

/// Accepts connections until the node stops, each served by a task of its own running
/// `serve(stream, remote, gateway)`.
async fn accept_loop<S, F>(listener: TcpListener, gateway: Gateway, what: &'static str, serve: S)
where
    S: Fn(TcpStream, SocketAddr, Gateway) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let mut stopping = gateway.stopping.clone();
    loop {
        let accepted = tokio::select! {
            _ = stopping.changed() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, remote)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, remote, gateway.clone()));
            }
            Err(error) => {
                tracing::warn!(%error, "{what} accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// The WebSocket handshake on `stream` (plain TCP or TLS), done by `deadline`, then the
/// connection until it closes.
async fn serve_websocket<S>(gateway: &Gateway, stream: S, remote: SocketAddr, deadline: tokio::time::Instant)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = ws_config(&gateway.config);
    let handshake = tokio_tungstenite::accept_async_with_config(stream, Some(config));
    let ws = match tokio::time::timeout_at(deadline, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(error)) => return tracing::debug!(%error, %remote, "WebSocket handshake failed"),
        Err(_) => return tracing::debug!(%remote, "WebSocket handshake timed out"),
    };
    let (sink, stream) = ws.split();
    let mut reader = WsRead { stream, eof: false, pending: None };
    let mut writer = WsWrite { sink };
    drive(gateway, &mut reader, &mut writer, Transport::WebSocket, remote).await;
}

fn ws_config(config: &ConnConfig) -> WebSocketConfig {
    // A message carries at most one frame's worth of packets plus a partial one.
    let message_max = config.frame_body_bytes_max + 16;
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(config.outbound_bytes_max + message_max)
        .max_message_size(Some(message_max))
        .max_frame_size(Some(message_max))
}

/// The reading side of a socket, as the connection task needs it.
trait WireRead {
    /// Waits until there is something to read (or the peer closed).
    async fn readable(&mut self) -> std::io::Result<()>;
    /// Gives `conn` what is there to read, without waiting.
    fn read_into(&mut self, conn: &mut Conn) -> std::io::Result<()>;
    /// Whether the peer closed its side.
    fn eof(&self) -> bool;
}

/// The writing side.
trait WireWrite {
    /// Whether there is something to write, in `conn` or in the wire's own buffer.
    fn wants_write(&self, conn: &Conn) -> bool;
    /// Writes what `conn` hands out. Cancel-safe: nothing taken from `conn` is lost if
    /// the future is dropped.
    async fn write(&mut self, conn: &mut Conn) -> std::io::Result<()>;
}

struct TcpRead<'a> {
    stream: &'a TcpStream,
    eof: bool,
}

struct TcpWrite<'a> {
    stream: &'a TcpStream,
    /// Frames taken from the machine, written from `written` on.
    out: Vec<u8>,
    written: usize,
}

impl WireRead for TcpRead<'_> {
    async fn readable(&mut self) -> std::io::Result<()> {
        self.stream.ready(Interest::READABLE).await.map(|_| ())
    }

    fn read_into(&mut self, conn: &mut Conn) -> std::io::Result<()> {
        READ_BUFFER.with_borrow_mut(|buffer| loop {
            match read_draining(self.stream, buffer) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    conn.handle_input(now_ms() as u64, &buffer[..n]);
                    if n < buffer.len() || !conn.wants_input() {
                        return Ok(());
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) => return Err(error),
            }
        })
    }

    fn eof(&self) -> bool {
        self.eof
    }
}

/// `try_read`, but a read that did not fill `buffer` drained the socket (epoll reports
/// the next bytes anew), so the stream's readiness is cleared with it, as tokio's own
/// `poll_read` does. Otherwise the next `readable` would return at once and the read after
/// it find nothing: a wasted wake-up and system call for every message a client sends.
fn read_draining(stream: &TcpStream, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut read = None;
    let outcome = stream.try_io(Interest::READABLE, || {
        let n = stream.try_read(buffer)?;
        read = Some(n);
        if n > 0 && n < buffer.len() {
            // Clears the readiness this read observed (not any that arrived since).
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    });
    match (outcome, read) {
        (Err(error), Some(n)) if error.kind() == std::io::ErrorKind::WouldBlock => Ok(n),
        (outcome, _) => outcome,
    }
}

impl WireWrite for TcpWrite<'_> {
    fn wants_write(&self, conn: &Conn) -> bool {
        self.written < self.out.len() || conn.outbound_bytes() > 0
    }

    async fn write(&mut self, conn: &mut Conn) -> std::io::Result<()> {
        loop {
            if self.written == self.out.len() {
                self.written = 0;
                self.out.clear();
                if self.out.capacity() > 2 * WRITE_CHUNK_BYTES {
                    self.out = Vec::new();
                }
                // Many small frames go out in one write.
                while self.out.len() < WRITE_CHUNK_BYTES {
                    match conn.poll_transmit() {
                        Some(Frame::Binary(bytes) | Frame::Text(bytes)) => self.out.extend_from_slice(&bytes),
                        None => break,
                    }
                }
                if self.out.is_empty() {
                    return Ok(());
                }
            }
            self.stream.writable().await?;
            match self.stream.try_write(&self.out[self.written..]) {
                Ok(n) => self.written += n,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(error) => return Err(error),
            }
        }
    }
}

/// The reading half of a WebSocket over `S` (a `TcpStream`, or TLS over one).
struct WsRead<S> {
    stream: futures_util::stream::SplitStream<WebSocketStream<S>>,
    eof: bool,
    /// A message read while waiting for readability, not yet given to the machine.
    pending: Option<Message>,
}

struct WsWrite<S> {
    sink: futures_util::stream::SplitSink<WebSocketStream<S>, Message>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WireRead for WsRead<S> {
    async fn readable(&mut self) -> std::io::Result<()> {
        if self.pending.is_some() {
            return Ok(());
        }
        match self.stream.next().await {
            Some(Ok(message)) => self.pending = Some(message),
            Some(Err(error)) => return Err(ws_error(error)),
            None => self.eof = true,
        }
        Ok(())
    }

    fn read_into(&mut self, conn: &mut Conn) -> std::io::Result<()> {
        match self.pending.take() {
            Some(Message::Binary(bytes)) => conn.handle_input(now_ms() as u64, &bytes),
            Some(Message::Text(text)) => conn.handle_input(now_ms() as u64, text.as_bytes()),
            Some(Message::Close(_)) => self.eof = true,
            // tungstenite answers pings itself.
            Some(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) | None => {}
        }
        Ok(())
    }

    fn eof(&self) -> bool {
        self.eof
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WireWrite for WsWrite<S> {
    fn wants_write(&self, conn: &Conn) -> bool {
        conn.outbound_bytes() > 0
    }

    /// One message per frame (the JS SDK cannot take two packets in one), then a flush.
    async fn write(&mut self, conn: &mut Conn) -> std::io::Result<()> {
        loop {
            // Room first, so that a frame taken from the machine is sent at once.
            futures_util::future::poll_fn(|cx| self.sink.poll_ready_unpin(cx)).await.map_err(ws_error)?;
            let Some(frame) = conn.poll_transmit() else { break };
            let message = match frame {
                Frame::Binary(bytes) => Message::Binary(bytes),
                Frame::Text(bytes) => match tungstenite::Utf8Bytes::try_from(bytes) {
                    Ok(text) => Message::Text(text),
                    Err(_) => continue,
                },
            };
            self.sink.start_send_unpin(message).map_err(ws_error)?;
        }
        self.sink.flush().await.map_err(ws_error)
    }
}

fn ws_error(error: tungstenite::Error) -> std::io::Error {
    match error {
        tungstenite::Error::Io(error) => error,
        other => std::io::Error::other(other.to_string()),
    }
}

/// What a login or send future of the task finishes with.
enum Done {
    Login(Result<u8, ReasonCode>, LoginInfo),
    Sent(Vec<(SendToken, SendOutcome)>, ChannelKey),
}

/// A channel as a client names it (the peer's uid for a person channel) and its type.
type ChannelKey = (String, u8);

/// A connection's sends, one batch at a time per channel: the sends that arrive while one to
/// the same channel runs wait, then go together ([`Node::send_in_order`]: one append), so
/// the channel stores a connection's messages in the order it sent them (WuKongIM's user
/// and channel reactors keep that order; SDKs rely on it) without a commit per message.
/// Sends to different channels proceed together. Holds at most the machine's sends in
/// flight (`sends_in_flight_max`).
#[derive(Default)]
struct SendQueues {
    /// A channel is here while one of its sends runs; the sends waiting behind it.
    waiting: HashMap<ChannelKey, VecDeque<(SendToken, SendRequest)>>,
}

impl SendQueues {
    /// The send to start now, or `None` if it waits for an earlier one to its channel.
    fn admit(&mut self, token: SendToken, request: SendRequest) -> Option<Vec<(SendToken, SendRequest)>> {
        let key = (request.channel_id.clone(), request.channel_type);
        match self.waiting.get_mut(&key) {
            Some(queue) => {
                queue.push_back((token, request));
                None
            }
            None => {
                self.waiting.insert(key, VecDeque::new());
                Some(vec![(token, request)])
            }
        }
    }

    /// A batch of sends to `key` finished: the next batch to start, if any waits.
    fn finished(&mut self, key: &ChannelKey) -> Option<Vec<(SendToken, SendRequest)>> {
        let queue = self.waiting.get_mut(key)?;
        if queue.is_empty() {
            self.waiting.remove(key);
            return None;
        }
        Some(queue.drain(..queue.len().min(SEND_BATCH_MAX)).collect())
    }
}

type Work = Pin<Box<dyn Future<Output = Done> + Send>>;

/// Runs one connection until it closes.
async fn drive(
    gateway: &Gateway,
    reader: &mut impl WireRead,
    writer: &mut impl WireWrite,
    transport: Transport,
    remote: SocketAddr,
) {
    let node = &gateway.node;
    let id = node.online.next_conn_id();
    let mut conn = Conn::new(gateway.config.clone(), transport, now_ms() as u64, random_seed());
    // The login and send futures; none while idle, when the set is dropped (it allocates).
    let mut work: Option<FuturesUnordered<Work>> = None;
    // Set at login: the connection's inbox and its overflow flag.
    let mut messages: Option<InboxReceiver> = None;
    let mut overflow: Option<OverflowFlag> = None;
    let mut stopping = gateway.stopping.clone();
    let mut sends = SendQueues::default();
    loop {
        while let Some(event) = conn.poll_event() {
            let started = match event {
                Event::Login(login) => start_login(node, &conn, login, transport, remote),
                Event::Send { token, request } => match sends.admit(token, request) {
                    Some(batch) => start_sends(node, id, batch),
                    None => continue,
                },
            };
            work.get_or_insert_with(FuturesUnordered::new).push(started);
        }
        if work.as_ref().is_some_and(FuturesUnordered::is_empty) {
            work = None;
        }
        if conn.is_closed() || reader.eof() {
            // What the machine still has (a DISCONNECT, say), if the peer takes it soon.
            let _ = tokio::time::timeout(FINAL_WRITE_TIMEOUT, writer.write(&mut conn)).await;
            break;
        }
        let deadline = conn.poll_timeout().map(deadline_of);
        tokio::select! {
            biased;
            _ = stopping.changed() => {
                // Closed without a DISCONNECT: after one, the SDKs never reconnect
                // (wkproto.md §4.5); after a plain close they do, once the server is back.
                let _ = tokio::time::timeout(FINAL_WRITE_TIMEOUT, writer.write(&mut conn)).await;
                break;
            }
            _ = overflowed(&overflow) => {
                tracing::debug!(conn = id, uid = conn.uid(), "inbox full: closing a connection that cannot keep up");
                break;
            }
            Some(done) = next_done(&mut work), if work.is_some() => match done {
                Done::Login(Ok(device_level), login) => {
                    let inbox = node.online.register(id, login);
                    messages = Some(inbox.messages);
                    overflow = Some(inbox.overflow);
                    conn.handle_login(now_ms() as u64, LoginOutcome::Accepted { device_level });
                }
                Done::Login(Err(reason), _) => {
                    conn.handle_login(now_ms() as u64, LoginOutcome::Refused(reason));
                }
                Done::Sent(outcomes, key) => {
                    if let Some(batch) = sends.finished(&key) {
                        work.get_or_insert_with(FuturesUnordered::new).push(start_sends(node, id, batch));
                    }
                    for (token, outcome) in outcomes {
                        conn.handle_sendack(token, outcome);
                    }
                }
            },
            Some(message) = next_message(&mut messages) => match message {
                ToConn::Deliver(delivery) => conn.deliver(now_ms() as u64, &delivery),
                ToConn::Kick { reason_code, reason } => conn.kick(reason_code, &reason),
            },
            written = writer.write(&mut conn), if writer.wants_write(&conn) => {
                if written.is_err() {
                    break;
                }
            }
            readable = reader.readable(), if conn.wants_input() => {
                if readable.and_then(|()| reader.read_into(&mut conn)).is_err() {
                    break;
                }
            }
            _ = sleep_until(deadline), if deadline.is_some() => conn.handle_timeout(now_ms() as u64),
        }
    }
    if messages.is_some() {
        node.online.unregister(conn.uid(), id);
    }
    if conn.close_reason() == Some(&CloseReason::SlowConsumer) {
        // Closed by its machine for not reading: as slow a client as a full inbox's.
        node.online.overflowed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    tracing::debug!(conn = id, uid = conn.uid(), %remote, reason = ?conn.close_reason(), "connection closed");
}

/// Checks a login, as a future of the connection's task.
fn start_login(
    node: &Arc<Node>,
    conn: &Conn,
    login: Login,
    transport: Transport,
    remote: SocketAddr,
) -> Work {
    let node = node.clone();
    let info = LoginInfo {
        uid: login.uid.clone(),
        device_flag: login.device_flag,
        device_level: 0,
        device_id: login.device_id.clone(),
        version: login.version,
        transport: match (transport, conn.is_json_rpc()) {
            (Transport::Tcp, _) => "tcp",
            (Transport::WebSocket, false) => "ws",
            (Transport::WebSocket, true) => "jsonrpc",
        },
        remote_addr: remote.to_string(),
        connected_at_ms: now_ms(),
    };
    Box::pin(async move {
        let result = node.login(&login.uid, login.device_flag, &login.token).await;
        let info = LoginInfo { device_level: *result.as_ref().unwrap_or(&0), ..info };
        Done::Login(result, info)
    })
}

/// Sends a batch of messages to one channel, in order, as a future of the connection's task.
fn start_sends(node: &Arc<Node>, id: ConnId, batch: Vec<(SendToken, SendRequest)>) -> Work {
    let node = node.clone();
    let key = (batch[0].1.channel_id.clone(), batch[0].1.channel_type);
    let (tokens, requests): (Vec<SendToken>, Vec<SendRequest>) = batch
        .into_iter()
        .map(|(token, request)| (token, SendRequest { sender_conn: Some(id), ..request }))
        .unzip();
    Box::pin(async move {
        let results = node.send_in_order(requests).await;
        let outcomes = tokens
            .into_iter()
            .zip(results)
            .map(|(token, result)| {
                let outcome = match result {
                    Ok(sent) => {
                        SendOutcome::Sent { message_id: sent.message_id, message_seq: sent.message_seq }
                    }
                    Err(error) => SendOutcome::Refused(refusal(&error)),
                };
                (token, outcome)
            })
            .collect();
        Done::Sent(outcomes, key)
    })
}

/// The SENDACK reason for a failed send.
fn refusal(error: &ServiceError) -> ReasonCode {
    match error {
        ServiceError::Denied { reason_code, .. } => ReasonCode(*reason_code),
        ServiceError::NotFound => ReasonCode::CHANNEL_NOT_EXIST,
        ServiceError::Invalid(_) | ServiceError::Unavailable(_) | ServiceError::Internal(_) => {
            ReasonCode::SYSTEM_ERROR
        }
    }
}

async fn next_done(work: &mut Option<FuturesUnordered<Work>>) -> Option<Done> {
    match work {
        Some(work) => work.next().await,
        None => std::future::pending().await,
    }
}

async fn next_message(messages: &mut Option<InboxReceiver>) -> Option<ToConn> {
    match messages {
        Some(messages) => messages.recv().await,
        None => std::future::pending().await,
    }
}

async fn overflowed(overflow: &Option<OverflowFlag>) {
    match overflow {
        Some(overflow) => overflow.wait().await,
        None => std::future::pending().await,
    }
}

fn deadline_of(at_ms: u64) -> tokio::time::Instant {
    let wait = at_ms.saturating_sub(now_ms() as u64);
    tokio::time::Instant::now() + Duration::from_millis(wait)
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// 48 bytes for the connection's key pair and salt, from the operating system.
fn random_seed() -> [u8; 48] {
    let mut seed = [0; 48];
    getrandom::getrandom(&mut seed).expect("the operating system has random numbers");
    seed
}
