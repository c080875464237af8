//! The sending side of a connection: SEND (encrypted as JS does), RECVACK, PING, raw bytes.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use protocol::{Flags, Packet, Recvack, Setting};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::error::{ClientError, Result};
use crate::options::SendOptions;
use crate::Link;

/// Frames queued for the socket at most. A client has a send window (tens) plus the RECVACKs
/// of a busy reader in flight; beyond that, senders wait (backpressure) rather than queue.
pub(crate) const OUTBOX_FRAMES_MAX: usize = 1024;

/// Frames the writer task gathers into one socket write at most: fewer syscalls under load,
/// and a bounded buffer (frames are small; 256 of them are tens of KiB).
const WRITE_BATCH_FRAMES_MAX: usize = 256;

/// What the writer task is asked to do.
pub(crate) enum Outgoing {
    Frame(Bytes),
    /// Shut the socket's write side down, then say so.
    Shutdown(oneshot::Sender<()>),
}

/// The task that owns the socket's write half. Every write goes through it, so a caller that
/// drops a send future (a timeout, a `select!`) never leaves half a frame on the wire. It
/// ends when both halves of the client are gone, on a write error (later sends then fail
/// with `Closed`) or after a shutdown.
pub(crate) async fn run_writer(
    mut socket: Box<dyn AsyncWrite + Send + Unpin>,
    mut outbox: mpsc::Receiver<Outgoing>,
) {
    let mut batch = BytesMut::new();
    while let Some(first) = outbox.recv().await {
        let mut shutdown = None;
        let mut next = Some(first);
        let mut frames = 0;
        while let Some(outgoing) = next.take() {
            match outgoing {
                Outgoing::Frame(frame) => batch.extend_from_slice(&frame),
                Outgoing::Shutdown(done) => {
                    shutdown = Some(done);
                    break;
                }
            }
            frames += 1;
            if frames < WRITE_BATCH_FRAMES_MAX {
                next = outbox.try_recv().ok();
            }
        }
        if !batch.is_empty() && (socket.write_all(&batch).await.is_err() || socket.flush().await.is_err()) {
            return;
        }
        batch.clear();
        if let Some(done) = shutdown {
            let _ = socket.shutdown().await;
            let _ = done.send(());
            return;
        }
    }
}

/// Queues bytes for the socket. `Err(Closed)` once the writer task has stopped.
pub(crate) async fn write_all(link: &Link, bytes: Bytes) -> Result<()> {
    link.outbox.send(Outgoing::Frame(bytes)).await.map_err(|_| ClientError::Closed)
}

/// Encodes `packet` in the connection's version and queues it.
pub(crate) async fn write_packet(link: &Link, packet: &Packet) -> Result<()> {
    let mut frame = BytesMut::with_capacity(packet.encoded_len(link.version));
    packet.encode(link.version, &mut frame);
    write_all(link, frame.freeze()).await
}

/// The sending half of a [`crate::Client`] ([`crate::Client::into_split`]): one task sends
/// while another reads.
pub struct ClientWriter {
    pub(crate) link: Arc<Link>,
    /// The next default `client_seq`; JS starts at 1.
    pub(crate) next_client_seq: u32,
    /// Unique per connection: the start of every generated `client_msg_no`.
    pub(crate) msg_no_prefix: String,
    pub(crate) msg_no_counter: u64,
}

impl ClientWriter {
    pub(crate) fn new(link: Arc<Link>, msg_no_prefix: String) -> ClientWriter {
        ClientWriter { link, next_client_seq: 1, msg_no_prefix, msg_no_counter: 0 }
    }

    /// Encrypts and writes one SEND; returns its `client_seq`. The SENDACK comes back through
    /// the reader.
    pub async fn send(&mut self, options: SendOptions) -> Result<u32> {
        let send = self.build_send(options);
        let client_seq = send.client_seq;
        write_packet(&self.link, &Packet::Send(send)).await?;
        Ok(client_seq)
    }

    /// The SEND `options` make, sealed with the session (what JS does before writing it).
    pub fn build_send(&mut self, options: SendOptions) -> protocol::Send {
        let client_seq = options.client_seq.unwrap_or_else(|| {
            let seq = self.next_client_seq;
            self.next_client_seq = self.next_client_seq.wrapping_add(1).max(1);
            seq
        });
        let client_msg_no = if options.client_msg_no.is_empty() {
            self.msg_no_counter += 1;
            format!("{}{:08x}", self.msg_no_prefix, self.msg_no_counter)
        } else {
            options.client_msg_no
        };
        let mut setting = Setting::default();
        if !options.topic.is_empty() {
            setting = setting | Setting::TOPIC;
        }
        if options.no_encrypt || self.link.session.is_none() {
            setting = setting | Setting::NO_ENCRYPT;
        }
        let mut send = protocol::Send {
            flags: Flags {
                dup: false,
                sync_once: options.sync_once,
                red_dot: options.red_dot,
                no_persist: options.no_persist,
            },
            setting,
            client_seq,
            client_msg_no,
            channel_id: options.channel_id,
            channel_type: options.channel_type,
            expire: options.expire,
            topic: options.topic,
            ..protocol::Send::default()
        };
        match &self.link.session {
            Some(session) => session.seal_send(&mut send, &options.payload),
            None => send.payload = options.payload,
        }
        send
    }

    /// Writes any packet, encoded in the connection's version, as it is (no sealing).
    pub async fn send_raw(&mut self, packet: &Packet) -> Result<()> {
        write_packet(&self.link, packet).await
    }

    /// Writes raw bytes (for tests of malformed input).
    pub async fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        write_all(&self.link, Bytes::copy_from_slice(bytes)).await
    }

    /// Writes a RECVACK with no header flags.
    pub async fn recvack(&mut self, message_id: i64, message_seq: u32) -> Result<()> {
        let ack = Recvack { flags: Flags::default(), message_id, message_seq };
        write_packet(&self.link, &Packet::Recvack(ack)).await
    }

    /// Writes a PING (`0x70`); the server answers [`crate::Incoming::Pong`].
    pub async fn ping(&mut self) -> Result<()> {
        write_packet(&self.link, &Packet::Ping).await
    }

    /// Writes what is queued, then shuts the socket's write side down: the server sees the
    /// end of the stream.
    pub async fn close(self) -> Result<()> {
        let (done, finished) = oneshot::channel();
        self.link.outbox.send(Outgoing::Shutdown(done)).await.map_err(|_| ClientError::Closed)?;
        finished.await.map_err(|_| ClientError::Closed)
    }
}
