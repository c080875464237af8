//! Random input, seeded: random bytes in random splits, alone or after a valid login, mixed
//! with the driver's calls. Whatever comes, the machine does not panic, its outbound queue
//! stays within its bound, and once closed it stays closed and quiet. A failure names its
//! seed; pin it as a test of its own.

use protocol::{ReasonCode, Version};

use super::*;
use crate::gateway::conn::SendOutcome;

/// Seeds tried per run: a few seconds in a debug build.
const SEEDS: u64 = 1_000;

/// SplitMix64: a tiny seeded generator (no dependency, the same sequence everywhere).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn small_config() -> ConnConfig {
    ConnConfig {
        node_id: 1,
        connect_timeout_ms: 1_000,
        idle_timeout_ms: 5_000,
        frame_body_bytes_max: 2_048,
        outbound_bytes_max: 4_096,
        sends_in_flight_max: 3,
        recvs_unacked_max: 4,
        recv_retry_ms: 100,
        recv_retries_max: 2,
    }
}

/// The stream one case feeds: random bytes, maybe after a valid CONNECT (and, on a logged-in
/// connection, with valid packets mixed in).
fn stream(rng: &mut Rng, client: &mut Option<Client>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(client) = client {
        bytes.extend(client.connect("u1"));
    }
    for _ in 0..rng.below(8) {
        let len = rng.below(64) as usize;
        match (rng.below(4), client.as_mut()) {
            (0, Some(client)) if client.session.is_some() => bytes.extend(client.send("u2", PLAINTEXT)),
            (1, _) => bytes.push(0x70),
            _ => bytes.extend(rng.bytes(len)),
        }
    }
    bytes
}

/// One of the driver's calls, at random.
fn driver_step(rng: &mut Rng, conn: &mut Conn, now_ms: u64, tokens: &mut Vec<super::super::SendToken>) {
    match rng.below(8) {
        0 => conn.handle_timeout(now_ms),
        1 => conn.deliver(now_ms, &person_delivery(rng.below(6) as i64, "u2")),
        2 => {
            let outcome = if rng.below(2) == 0 {
                LoginOutcome::Accepted { device_level: 1 }
            } else {
                LoginOutcome::Refused(ReasonCode::AUTH_FAIL)
            };
            conn.handle_login(now_ms, outcome);
        }
        3 => {
            if let Some(token) = tokens.pop() {
                conn.handle_sendack(token, SendOutcome::Sent { message_id: 1, message_seq: u64::MAX });
            }
        }
        4 => {
            for _ in 0..rng.below(4) {
                conn.poll_transmit();
            }
        }
        5 if rng.below(16) == 0 => conn.kick(ReasonCode::CONNECT_KICK, "kicked"),
        _ => {}
    }
    while let Some(event) = conn.poll_event() {
        if let Event::Send { token, .. } = event {
            tokens.push(token);
        }
    }
}

fn run(seed: u64) {
    let mut rng = Rng(seed);
    let config = small_config();
    let transport = if rng.below(2) == 0 { Transport::Tcp } else { Transport::WebSocket };
    let mut conn = Conn::new(config.clone(), transport, T0, server_random());
    let mut client = (rng.below(2) == 0).then(|| Client::new([2, 3, 4, 5][rng.below(4) as usize]));
    let mut tokens = Vec::new();
    let mut now_ms = T0;
    if let Some(client) = client.as_mut().filter(|_| rng.below(2) == 0) {
        // Log in first, so the random bytes meet an open session.
        conn.handle_input(now_ms, &client.connect("u1"));
        conn.handle_login(now_ms, LoginOutcome::Accepted { device_level: 1 });
        let packets = packets(&mut conn, Version::negotiate(client.client_version));
        if let [Packet::Connack(connack)] = &packets[..] {
            client.accept(connack);
        }
    }
    let bytes = stream(&mut rng, &mut client);
    let mut rest = &bytes[..];
    let mut was_closed = conn.is_closed();
    while !rest.is_empty() {
        let cut = (rng.below(rest.len() as u64) + 1) as usize;
        let (chunk, tail) = rest.split_at(cut);
        rest = tail;
        now_ms += rng.below(300);
        conn.handle_input(now_ms, chunk);
        driver_step(&mut rng, &mut conn, now_ms, &mut tokens);
        assert!(conn.outbound_bytes() <= config.outbound_bytes_max, "seed {seed}: outbound over its bound");
        if was_closed {
            assert!(conn.is_closed(), "seed {seed}: reopened");
            assert!(conn.poll_event().is_none(), "seed {seed}: an event after close");
            assert!(conn.poll_timeout().is_none(), "seed {seed}: a timer after close");
            assert!(!conn.wants_input(), "seed {seed}: input after close");
        }
        was_closed = conn.is_closed();
        if let Some(timeout) = conn.poll_timeout() {
            assert!(timeout >= T0, "seed {seed}");
        }
    }
    // Whatever is left is frames the driver can write.
    while conn.poll_transmit().is_some() {}
    assert_eq!(conn.outbound_bytes(), 0, "seed {seed}");
}

#[test]
fn random_input_never_panics_and_stays_bounded() {
    for seed in 0..SEEDS {
        run(seed);
    }
}
