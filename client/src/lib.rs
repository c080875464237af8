//! A small WuKongIM client speaking WKProto over TCP, with the official SDKs' encryption
//! (`shared/reference/wkproto.md`): for the server's integration tests and for `imbench`.
//! The codecs and the crypto are the `protocol` crate's; this crate adds the socket, the
//! login, and the client-side habits of the JS SDK (RedDot on every SEND, RECVACK with the
//! RECV's flags, a `clientSeq` counter from 1).
//!
//! # Usage
//!
//! ```no_run
//! use std::time::Duration;
//! use wkclient::{ChannelType, Client, ConnectOptions, Incoming, SendOptions};
//!
//! # async fn demo() -> Result<(), wkclient::ClientError> {
//! // Tokens first, over HTTP, unless the server runs with WK_TOKENAUTHON=false.
//! let http = wkclient::http::HttpClient::new("127.0.0.1:5001");
//! http.user_token("alice", "t-alice", 0, 1).await.expect("token");
//!
//! let mut alice = Client::connect("127.0.0.1:5100", ConnectOptions::new("alice", "t-alice")).await?;
//! assert_eq!(alice.version().get(), 5); // what CONNACK said
//! let seq = alice.send(SendOptions::text("bob", ChannelType::PERSON, "hi")).await?;
//! let ack = alice.wait_sendack(seq).await?; // bounded by ConnectOptions::wait_timeout
//! assert!(ack.is_success());
//!
//! // Whatever arrives: RECVs come decrypted (msgKey checked) and are RECVACKed.
//! while let Some(incoming) = alice.next_timeout(Duration::from_secs(1)).await? {
//!     match incoming {
//!         Incoming::Recv(message) => println!("{}: {:?}", message.from_uid, message.payload),
//!         Incoming::Disconnect { reason_code, .. } => println!("kicked: {reason_code:?}"),
//!         _ => {}
//!     }
//! }
//! alice.close().await?;
//! # Ok(()) }
//! ```
//!
//! A refused login is `Err(ClientError::Refused(reason_code))`. For a load generator,
//! [`Client::into_split`] gives a [`ClientWriter`] for one task and a [`ClientReader`] for
//! another. For bad-input tests, [`Client::send_raw`] and [`Client::write_bytes`].
//!
//! Waits: `next` waits as long as it takes; `next_timeout`, `wait_sendack`, `wait_recv` and
//! the CONNACK wait are bounded, to keep a broken test from hanging, never to assert timing.
//! They use tokio's clock: under paused time (`start_paused`) they would elapse while the
//! socket is quiet, so tests that talk to a real socket run on real time.
//!
//! # Layout
//! - [`options`]: [`ConnectOptions`], [`SendOptions`], their defaults.
//! - `writer`: [`ClientWriter`], and the task that owns the socket's write half.
//! - `reader`: [`ClientReader`]: decode, open, RECVACK, park.
//! - [`incoming`]: what [`Client::next`] returns.
//! - [`http`]: a minimal HTTP/1.1 JSON client for the server's setup API.

mod error;
pub mod http;
pub mod incoming;
pub mod options;
mod reader;
mod writer;

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use protocol::crypto::{KeyPair, Session};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::mpsc;

pub use error::{ClientError, Result};
pub use incoming::{Incoming, Received, SendAck};
pub use options::{ConnectOptions, SendOptions, VERSION_DEFAULT, WAIT_TIMEOUT_DEFAULT};
pub use protocol;
pub use protocol::{ChannelType, DeviceFlag, Packet, ReasonCode, Version};
pub use reader::{ClientReader, PENDING_PACKETS_MAX};
pub use writer::ClientWriter;

use protocol::{Connack, Connect, Decoder};
use writer::{run_writer, Outgoing, OUTBOX_FRAMES_MAX};

/// What both halves of a connection share: fixed at login.
pub(crate) struct Link {
    /// What CONNACK said: its server-version byte, or for versions 2 and 3 (no byte) the
    /// version CONNECT offered.
    pub(crate) version: Version,
    /// `None` when the server sent no server key (encryption off): payloads then go in clear
    /// with the NO_ENCRYPT setting.
    pub(crate) session: Option<Session>,
    pub(crate) outbox: mpsc::Sender<Outgoing>,
}

/// A logged-in connection. Methods of [`ClientWriter`] and [`ClientReader`] are available on
/// it directly.
pub struct Client {
    writer: ClientWriter,
    reader: ClientReader,
    connack: Connack,
}

impl Client {
    /// Connects over TCP (Nagle off, as a chat client wants) and logs in: CONNECT, then
    /// CONNACK within `options.wait_timeout`.
    pub async fn connect(addr: impl ToSocketAddrs, options: ConnectOptions) -> Result<Client> {
        let wait = options.wait_timeout;
        let stream = tokio::time::timeout(wait, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout)??;
        stream.set_nodelay(true)?;
        Client::login(stream, options).await
    }

    /// Logs in over any byte stream (a `tokio::io::duplex` in tests).
    pub async fn login(
        stream: impl AsyncRead + AsyncWrite + Send + 'static,
        options: ConnectOptions,
    ) -> Result<Client> {
        let (read, write) = tokio::io::split(stream);
        let wait = options.wait_timeout;
        tokio::time::timeout(wait, Client::handshake(Box::new(read), Box::new(write), options))
            .await
            .unwrap_or(Err(ClientError::Timeout))
    }

    async fn handshake(
        read: Box<dyn AsyncRead + Send + Unpin>,
        mut write: Box<dyn AsyncWrite + Send + Unpin>,
        options: ConnectOptions,
    ) -> Result<Client> {
        let keys = KeyPair::from_secret_bytes(options.key_seed.unwrap_or_else(random_bytes));
        let device_id = if options.device_id.is_empty() {
            let suffix = match options.device_flag {
                DeviceFlag::APP => "A",
                DeviceFlag::WEB => "W",
                DeviceFlag::PC => "P",
                _ => "S",
            };
            format!("{}{suffix}", hex(&random_bytes()[..16]))
        } else {
            options.device_id.clone()
        };
        let connect = Connect {
            version: options.version,
            device_flag: options.device_flag,
            device_id,
            uid: options.uid.clone(),
            token: options.token.clone(),
            client_timestamp: unix_millis(),
            client_key: keys.public_key_base64(),
        };
        let mut frame = BytesMut::new();
        // CONNECT has no version-dependent field.
        Packet::Connect(connect).encode(Version::LATEST, &mut frame);
        write.write_all(&frame).await?;
        write.flush().await?;

        // CONNACK's layout follows its own header bit, whatever the decoder's version.
        let (outbox, queue) = mpsc::channel(OUTBOX_FRAMES_MAX);
        let provisional = Arc::new(Link { version: Version::LATEST, session: None, outbox: outbox.clone() });
        let mut reader = ClientReader {
            link: provisional,
            read,
            decoder: Decoder::new(Version::LATEST),
            inbound: BytesMut::new(),
            pending: VecDeque::new(),
            auto_recvack: options.auto_recvack,
            open_one_in: options.open_one_in.max(1),
            recvs: 0,
            wait_timeout: options.wait_timeout,
        };
        let connack = match reader.read_packet().await? {
            Packet::Connack(connack) => connack,
            other => {
                return Err(ClientError::Unexpected(format!("{:?} before CONNACK", other.packet_type())))
            }
        };
        if connack.reason_code != ReasonCode::SUCCESS {
            return Err(ClientError::Refused(connack.reason_code));
        }
        let version = if connack.server_version > 0 {
            Version::negotiate(connack.server_version)
        } else {
            Version::negotiate(options.version)
        };
        let session = if connack.server_key.is_empty() {
            None
        } else {
            let shared = keys.shared_secret(&connack.server_key).map_err(ClientError::Crypto)?;
            Some(Session::new(&shared, &connack.salt).map_err(ClientError::Crypto)?)
        };
        let link = Arc::new(Link { version, session, outbox });
        reader.link = link.clone();
        reader.decoder.set_version(version);
        tokio::spawn(run_writer(write, queue));
        let writer = ClientWriter::new(link, hex(&random_bytes()[..12]));
        Ok(Client { writer, reader, connack })
    }

    /// The protocol version the connection speaks (CONNACK's).
    pub fn version(&self) -> Version {
        self.writer.link.version
    }

    /// The CONNACK the server answered with (time difference, node id, ...).
    pub fn connack(&self) -> &Connack {
        &self.connack
    }

    /// Two halves, for one task that sends and another that reads. The reader still queues
    /// RECVACKs; the connection closes when both are dropped.
    pub fn into_split(self) -> (ClientWriter, ClientReader) {
        (self.writer, self.reader)
    }

    /// See [`ClientWriter::send`].
    pub async fn send(&mut self, options: SendOptions) -> Result<u32> {
        self.writer.send(options).await
    }

    /// See [`ClientWriter::build_send`].
    pub fn build_send(&mut self, options: SendOptions) -> protocol::Send {
        self.writer.build_send(options)
    }

    /// See [`ClientWriter::send_raw`].
    pub async fn send_raw(&mut self, packet: &Packet) -> Result<()> {
        self.writer.send_raw(packet).await
    }

    /// See [`ClientWriter::write_bytes`].
    pub async fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer.write_bytes(bytes).await
    }

    /// See [`ClientWriter::ping`].
    pub async fn ping(&mut self) -> Result<()> {
        self.writer.ping().await
    }

    /// See [`ClientWriter::recvack`].
    pub async fn recvack(&mut self, message_id: i64, message_seq: u32) -> Result<()> {
        self.writer.recvack(message_id, message_seq).await
    }

    /// See [`ClientReader::next`].
    pub async fn next(&mut self) -> Result<Incoming> {
        self.reader.next().await
    }

    /// See [`ClientReader::next_timeout`].
    pub async fn next_timeout(&mut self, wait: Duration) -> Result<Option<Incoming>> {
        self.reader.next_timeout(wait).await
    }

    /// See [`ClientReader::wait_sendack`].
    pub async fn wait_sendack(&mut self, client_seq: u32) -> Result<SendAck> {
        self.reader.wait_sendack(client_seq).await
    }

    /// See [`ClientReader::wait_recv`].
    pub async fn wait_recv(&mut self) -> Result<Received> {
        self.reader.wait_recv().await
    }

    /// Sends and waits for the SENDACK (bounded): the common case in tests.
    pub async fn send_and_ack(&mut self, options: SendOptions) -> Result<SendAck> {
        let client_seq = self.send(options).await?;
        self.wait_sendack(client_seq).await
    }

    /// See [`ClientWriter::close`].
    pub async fn close(self) -> Result<()> {
        self.writer.close().await
    }
}

/// Milliseconds since the Unix epoch (CONNECT's `clientTimestamp`).
fn unix_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// 32 unpredictable bytes without a RNG dependency: std's per-process random hash keys, a
/// counter and the clock. Key pairs and device ids need uniqueness, not secrecy, here.
fn random_bytes() -> [u8; 32] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        chunk.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
