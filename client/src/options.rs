//! What a connection and a message are made of: [`ConnectOptions`], [`SendOptions`].

use std::time::Duration;

use bytes::Bytes;
use protocol::{ChannelType, DeviceFlag};

/// How long a bounded wait lasts by default: the CONNACK wait, [`crate::Client::wait_sendack`]
/// and [`crate::Client::wait_recv`]. A local server answers in milliseconds; 10 s only bounds
/// a test that would otherwise hang, it is never a timing assertion.
pub const WAIT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

/// The newest protocol version (JS 1.3.x), the default of [`ConnectOptions::version`].
pub const VERSION_DEFAULT: u8 = 5;

/// One login: CONNECT's fields and the client's own knobs.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub uid: String,
    /// Compared with the token registered through `POST /user/token` when the server has
    /// token auth on; anything when it is off.
    pub token: String,
    /// Default [`DeviceFlag::APP`] (0): the flag `POST /user/token` registers when its
    /// request leaves `device_flag` out, so a token set without one matches. (JS sends WEB.)
    pub device_flag: DeviceFlag,
    /// Empty (the default): 32 random hex characters and a letter for the flag (`A`, `W`,
    /// `P`), new for every connection, as JS does.
    pub device_id: String,
    /// The protocol version CONNECT offers, default 5. 2 is `wukongimjssdk@1.0.4`, 4 is
    /// JS 1.2.7..1.2.11. The connection then speaks what CONNACK says ([`crate::Client::version`]).
    pub version: u8,
    /// The 32 bytes of the client's X25519 secret; `None` (the default) draws them at random.
    /// Tests that want reproducible bytes set it.
    pub key_seed: Option<[u8; 32]>,
    /// Answer every RECV that opens with a RECVACK (copying its flags, as JS does). Default on;
    /// off for tests of the server's retry and for [`crate::Client::recvack`] by hand.
    pub auto_recvack: bool,
    /// Verify and decrypt one RECV in this many (default 1: every one, as an SDK does). A
    /// load generator sharing the server's machine sets more, so that the clients' crypto
    /// does not take the server's CPU; the others arrive with `opened: false`.
    pub open_one_in: u32,
    /// The limit of the CONNACK wait and of the `wait_*` helpers. Default
    /// [`WAIT_TIMEOUT_DEFAULT`].
    pub wait_timeout: Duration,
}

impl ConnectOptions {
    /// A login as `uid` with `token`, everything else at its default.
    pub fn new(uid: impl Into<String>, token: impl Into<String>) -> ConnectOptions {
        ConnectOptions { uid: uid.into(), token: token.into(), ..ConnectOptions::default() }
    }

    /// The same options offering protocol `version`.
    pub fn with_version(mut self, version: u8) -> ConnectOptions {
        self.version = version;
        self
    }
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            uid: String::new(),
            token: String::new(),
            device_flag: DeviceFlag::APP,
            device_id: String::new(),
            version: VERSION_DEFAULT,
            key_seed: None,
            auto_recvack: true,
            open_one_in: 1,
            wait_timeout: WAIT_TIMEOUT_DEFAULT,
        }
    }
}

/// One message to send. `SendOptions::new(channel_id, channel_type, payload)` sets the rest
/// to what JS sends: RedDot on, encrypted, no expiry, no topic.
#[derive(Clone, Debug)]
pub struct SendOptions {
    /// Person channel: the recipient's uid. Group: the group id.
    pub channel_id: String,
    pub channel_type: ChannelType,
    /// The plaintext; the client encrypts it. The official SDKs need UTF-8 JSON with a
    /// numeric `type` (`{"type":1,"content":"hi"}`); anything goes on the wire.
    pub payload: Bytes,
    /// Empty (the default): a fresh unique one.
    pub client_msg_no: String,
    pub no_persist: bool,
    /// Default true, as JS.
    pub red_dot: bool,
    pub sync_once: bool,
    /// Seconds, 0 = never. On the wire from version 3 only.
    pub expire: u32,
    /// Empty: no topic (the TOPIC setting bit is set iff this is not empty).
    pub topic: String,
    /// `None` (the default): the connection's next counter value (1, 2, ...). Set it to
    /// resend with the same sequence or to test the server with odd values.
    pub client_seq: Option<u32>,
    /// Send the payload in clear with the NO_ENCRYPT setting (Go clients only; no JS does).
    pub no_encrypt: bool,
}

impl SendOptions {
    /// A message of `payload` to a channel, everything else as JS sends it.
    pub fn new(
        channel_id: impl Into<String>,
        channel_type: ChannelType,
        payload: impl Into<Bytes>,
    ) -> SendOptions {
        SendOptions {
            channel_id: channel_id.into(),
            channel_type,
            payload: payload.into(),
            client_msg_no: String::new(),
            no_persist: false,
            red_dot: true,
            sync_once: false,
            expire: 0,
            topic: String::new(),
            client_seq: None,
            no_encrypt: false,
        }
    }

    /// A text message as the SDKs send one: `{"type":1,"content":<text>}`.
    pub fn text(channel_id: impl Into<String>, channel_type: ChannelType, text: &str) -> SendOptions {
        let payload = serde_json::json!({"type": 1, "content": text}).to_string();
        SendOptions::new(channel_id, channel_type, payload)
    }
}
