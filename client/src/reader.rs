//! The receiving side of a connection: cuts packets from the stream, opens RECVs, answers
//! them with RECVACK, and parks what arrives while a `wait_*` looks for something else.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use protocol::{Decoder, Packet, Recv, Recvack};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::{ClientError, Result};
use crate::incoming::{Incoming, Received, SendAck};
use crate::writer::write_packet;
use crate::Link;

/// Bytes asked of the socket per read. 64 KiB holds hundreds of small RECVs, so a busy
/// connection costs few reads; a frame larger than that just takes several.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Packets parked while a `wait_*` looks for another one, at most. A test or the bench has at
/// most a send window (tens) of packets in flight; the bound only stops a runaway.
pub const PENDING_PACKETS_MAX: usize = 65_536;

/// The receiving half of a [`crate::Client`] ([`crate::Client::into_split`]).
pub struct ClientReader {
    pub(crate) link: Arc<Link>,
    pub(crate) read: Box<dyn AsyncRead + Send + Unpin>,
    pub(crate) decoder: Decoder,
    pub(crate) inbound: BytesMut,
    pub(crate) pending: VecDeque<Incoming>,
    pub(crate) auto_recvack: bool,
    pub(crate) open_one_in: u32,
    /// RECVs seen, for `open_one_in`.
    pub(crate) recvs: u64,
    pub(crate) wait_timeout: Duration,
}

impl ClientReader {
    /// The next packet from the server. `Err(Closed)` at the end of the stream. Cancel-safe:
    /// dropping the future loses no bytes (so it may sit in a `select!` or a timeout).
    pub async fn next(&mut self) -> Result<Incoming> {
        if let Some(incoming) = self.pending.pop_front() {
            return Ok(incoming);
        }
        let packet = self.read_packet().await?;
        let (incoming, ack) = self.open(packet)?;
        // Parked before the ack is queued: a caller that drops this future while the outbox
        // is full loses the ack (the server retries), never the message.
        self.pending.push_back(incoming);
        if let Some(ack) = ack {
            write_packet(&self.link, &Packet::Recvack(ack)).await?;
        }
        Ok(self.pending.pop_back().expect("parked just above"))
    }

    /// [`ClientReader::next`] with a bounded wait: `Ok(None)` when nothing came within
    /// `wait`. For bounding tests, never for asserting timing.
    pub async fn next_timeout(&mut self, wait: Duration) -> Result<Option<Incoming>> {
        match tokio::time::timeout(wait, self.next()).await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Reads until the SENDACK of `client_seq` and returns it; other packets are parked for
    /// [`ClientReader::next`]. `Err(Timeout)` after the connection's wait limit.
    pub async fn wait_sendack(&mut self, client_seq: u32) -> Result<SendAck> {
        let is_it =
            |incoming: &Incoming| matches!(incoming, Incoming::Sendack(ack) if ack.client_seq == client_seq);
        match self.wait_for(is_it).await? {
            Incoming::Sendack(ack) => Ok(ack),
            _ => unreachable!("wait_for returns what the predicate picked"),
        }
    }

    /// Reads until a RECV and returns it; other packets are parked.
    pub async fn wait_recv(&mut self) -> Result<Received> {
        match self.wait_for(|incoming| matches!(incoming, Incoming::Recv(_))).await? {
            Incoming::Recv(received) => Ok(received),
            _ => unreachable!("wait_for returns what the predicate picked"),
        }
    }

    /// Reads until a packet for which `pick` is true (parked ones first) and returns it;
    /// parks the others in order. Bounded by the connection's wait limit (`Err(Timeout)`).
    pub async fn wait_for(&mut self, mut pick: impl FnMut(&Incoming) -> bool) -> Result<Incoming> {
        if let Some(index) = self.pending.iter().position(&mut pick) {
            return Ok(self.pending.remove(index).expect("index from position"));
        }
        let wait = self.wait_timeout;
        let search = async {
            loop {
                let packet = self.read_packet().await?;
                let (incoming, ack) = self.open(packet)?;
                // Parked before the ack is queued, as in `next`.
                let picked = pick(&incoming);
                if !picked && self.pending.len() >= PENDING_PACKETS_MAX {
                    return Err(ClientError::PendingFull(PENDING_PACKETS_MAX));
                }
                self.pending.push_back(incoming);
                if let Some(ack) = ack {
                    write_packet(&self.link, &Packet::Recvack(ack)).await?;
                }
                if picked {
                    return Ok(self.pending.pop_back().expect("parked just above"));
                }
            }
        };
        tokio::time::timeout(wait, search).await.unwrap_or(Err(ClientError::Timeout))
    }

    /// Writes a RECVACK with no header flags (for `auto_recvack: false`).
    pub async fn recvack(&mut self, message_id: i64, message_seq: u32) -> Result<()> {
        let ack = Recvack { flags: Default::default(), message_id, message_seq };
        write_packet(&self.link, &Packet::Recvack(ack)).await
    }

    /// The protocol version the connection speaks.
    pub fn version(&self) -> protocol::Version {
        self.link.version
    }

    /// The next whole packet off the stream.
    pub(crate) async fn read_packet(&mut self) -> Result<Packet> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.inbound).map_err(ClientError::Decode)? {
                return Ok(packet);
            }
            self.inbound.reserve(READ_CHUNK_BYTES);
            if self.read.read_buf(&mut self.inbound).await? == 0 {
                return Err(ClientError::Closed);
            }
        }
    }

    /// A packet as the caller sees it, RECVs opened, and the RECVACK it is owed
    /// (`auto_recvack`; with the RECV's flags, as JS copies them).
    fn open(&mut self, packet: Packet) -> Result<(Incoming, Option<Recvack>)> {
        let incoming = match packet {
            Packet::Sendack(ack) => Incoming::Sendack(SendAck {
                client_seq: ack.client_seq,
                message_id: ack.message_id,
                message_seq: ack.message_seq,
                reason_code: ack.reason_code,
            }),
            Packet::Recv(recv) => {
                let ack =
                    Recvack { flags: recv.flags, message_id: recv.message_id, message_seq: recv.message_seq };
                let received = self.open_recv(recv)?;
                return Ok((Incoming::Recv(received), self.auto_recvack.then_some(ack)));
            }
            Packet::Disconnect(disconnect) => {
                Incoming::Disconnect { reason_code: disconnect.reason_code, reason: disconnect.reason }
            }
            Packet::Pong => Incoming::Pong,
            Packet::Suback(suback) => Incoming::Suback(suback),
            Packet::Event(event) => Incoming::Event(event),
            other => Incoming::Other(other),
        };
        Ok((incoming, None))
    }

    /// Verifies msgKey and decrypts, as JS does before it accepts a RECV.
    fn open_recv(&mut self, recv: Recv) -> Result<Received> {
        self.recvs += 1;
        let opened = self.recvs.is_multiple_of(u64::from(self.open_one_in));
        let payload = match &self.link.session {
            Some(session) if opened => session.open_recv(&recv).map_err(ClientError::Crypto)?.into(),
            _ => recv.payload,
        };
        Ok(Received {
            message_id: recv.message_id,
            message_seq: recv.message_seq,
            from_uid: recv.from_uid,
            channel_id: recv.channel_id,
            channel_type: recv.channel_type,
            client_msg_no: recv.client_msg_no,
            red_dot: recv.flags.red_dot,
            no_persist: recv.flags.no_persist,
            sync_once: recv.flags.sync_once,
            expire: recv.expire,
            topic: recv.topic,
            payload,
            opened,
            timestamp: recv.timestamp,
        })
    }
}
