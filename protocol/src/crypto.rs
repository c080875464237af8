//! Payload crypto (wkproto.md §3), mandatory for the JS SDK:
//!
//! 1. X25519 key exchange: the client sends `clientKey = base64(pub)` in CONNECT, the server
//!    answers `serverKey` in CONNACK; both compute the RFC 7748 shared secret.
//! 2. `aesKey = lowercase_hex(MD5(base64(shared)))[0..16]`, used as 16 **ASCII** bytes (the hex
//!    text, not the digest); the IV is the 16 ASCII characters of CONNACK's `salt`, the same
//!    for every packet of the session.
//! 3. Payload on the wire = ASCII base64 of AES-128-CBC/PKCS#7 of the plaintext.
//! 4. `msgKey = lowercase_hex(MD5(base64(AES(sign))))` over the **encrypted** payload, where
//!    `sign` is the packet's fields in decimal and UTF-8 ([`send_sign`], [`recv_sign`]). It
//!    is computed per receiving connection, after encrypting for that connection.
//!
//! No randomness here: the caller passes the 32 secret bytes and the salt's 16 random bytes
//! (drawn by the driver from its seeded RNG).

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};
use aes::Aes128;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use md5::{Digest, Md5};
use x25519_dalek::{PublicKey, StaticSecret};

use crate::codes::Setting;
use crate::error::Error;
use crate::limits::{PUBLIC_KEY_BYTES, SALT_BYTES};
use crate::packet::{Recv, Send};

type CbcEncryptor = cbc::Encryptor<Aes128>;
type CbcDecryptor = cbc::Decryptor<Aes128>;

/// Characters of a salt, as Server v2's `GetRandomString`: `[a-zA-Z0-9]`.
const SALT_ALPHABET: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// An X25519 key pair: the server's per-connection key, or a client's (tests, simulator).
pub struct KeyPair {
    secret: StaticSecret,
    public: PublicKey,
}

impl KeyPair {
    /// The key pair of 32 secret bytes (clamped as RFC 7748 says).
    pub fn from_secret_bytes(secret: [u8; 32]) -> KeyPair {
        let secret = StaticSecret::from(secret);
        let public = PublicKey::from(&secret);
        KeyPair { secret, public }
    }

    /// The public key's 32 bytes.
    pub fn public_key(&self) -> [u8; 32] {
        self.public.to_bytes()
    }

    /// The public key as CONNECT's `clientKey` / CONNACK's `serverKey`: standard padded base64.
    pub fn public_key_base64(&self) -> String {
        BASE64.encode(self.public.as_bytes())
    }

    /// The shared secret with the peer whose base64 public key is `peer_key_base64`. Like
    /// Server v2, the first 32 decoded bytes are used. A low-order peer key (all-zero secret)
    /// is refused: no real client produces one.
    pub fn shared_secret(&self, peer_key_base64: &str) -> Result<[u8; 32], Error> {
        let decoded = BASE64.decode(peer_key_base64).map_err(|_| Error::KeyNotBase64)?;
        let Some(peer) = decoded.get(..PUBLIC_KEY_BYTES) else {
            return Err(Error::KeyTooShort(decoded.len()));
        };
        let peer: [u8; 32] = peer.try_into().expect("slice of PUBLIC_KEY_BYTES");
        let shared = self.secret.diffie_hellman(&PublicKey::from(peer));
        if !shared.was_contributory() {
            return Err(Error::NonContributoryKey);
        }
        Ok(shared.to_bytes())
    }
}

/// A salt (the session IV) from 16 random bytes: each byte picks one of 62 characters. The
/// slight modulo bias does not matter: the IV is sent in clear and needs no secrecy.
pub fn salt_from_random(random: [u8; SALT_BYTES]) -> String {
    random.iter().map(|&b| char::from(SALT_ALPHABET[usize::from(b) % SALT_ALPHABET.len()])).collect()
}

/// `lowercase_hex(MD5(base64(shared)))[0..16]` as bytes: the AES-128 key (§3.2).
pub fn aes_key_from_shared(shared: &[u8; 32]) -> [u8; 16] {
    let digest = Md5::digest(BASE64.encode(shared).as_bytes());
    let hex = lowercase_hex(&digest);
    hex[..16].try_into().expect("32 hex chars")
}

fn lowercase_hex(bytes: &[u8]) -> [u8; 32] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, b) in bytes.iter().take(16).enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
    }
    out
}

/// SEND's signed bytes: `dec(clientSeq) ‖ clientMsgNo ‖ channelId ‖ dec(channelType) ‖ payload`.
pub fn send_sign(send: &Send) -> Vec<u8> {
    let mut sign = Vec::with_capacity(
        SIGN_NUMBERS_BYTES + send.client_msg_no.len() + send.channel_id.len() + send.payload.len(),
    );
    put_decimal(&mut sign, send.client_seq);
    sign.extend_from_slice(send.client_msg_no.as_bytes());
    sign.extend_from_slice(send.channel_id.as_bytes());
    put_decimal(&mut sign, send.channel_type.0);
    sign.extend_from_slice(&send.payload);
    sign
}

/// RECV's signed bytes: `dec(messageId) ‖ dec(messageSeq) ‖ clientMsgNo ‖ dec(timestamp) ‖
/// fromUid ‖ channelId ‖ dec(channelType) ‖ payload`. Signed numbers are formatted signed, as
/// Go does; JS formats them unsigned, which is why message ids and timestamps stay positive.
pub fn recv_sign(recv: &Recv) -> Vec<u8> {
    let mut sign = Vec::with_capacity(
        SIGN_NUMBERS_BYTES
            + recv.client_msg_no.len()
            + recv.from_uid.len()
            + recv.channel_id.len()
            + recv.payload.len(),
    );
    put_decimal(&mut sign, recv.message_id);
    put_decimal(&mut sign, recv.message_seq);
    sign.extend_from_slice(recv.client_msg_no.as_bytes());
    put_decimal(&mut sign, recv.timestamp);
    sign.extend_from_slice(recv.from_uid.as_bytes());
    sign.extend_from_slice(recv.channel_id.as_bytes());
    put_decimal(&mut sign, recv.channel_type.0);
    sign.extend_from_slice(&recv.payload);
    sign
}

/// Room in a sign for its numbers in decimal (at most four, of at most 20 characters) and
/// for the AES padding it gets in place (at most one block).
const SIGN_NUMBERS_BYTES: usize = 4 * 20 + AES_BLOCK_BYTES;

const AES_BLOCK_BYTES: usize = 16;

fn put_decimal(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// One connection's AES session: key and IV.
#[derive(Clone)]
pub struct Session {
    /// The key, expanded once per packet (its payload and its msgKey share the schedule)
    /// rather than kept expanded: an expanded AES key is 720 bytes, and a server holds one
    /// session per connection (expanding costs tens of nanoseconds against microseconds
    /// per packet).
    key: [u8; 16],
    iv: [u8; SALT_BYTES],
}

impl Session {
    /// The session of a connection whose key exchange gave `shared` and whose CONNACK carried
    /// `salt` (exactly 16 single-byte characters).
    pub fn new(shared: &[u8; 32], salt: &str) -> Result<Session, Error> {
        Session::from_aes_key(aes_key_from_shared(shared), salt)
    }

    /// The server side of CONNECT: key exchange with the client's `clientKey`, then [`Session::new`].
    pub fn accept(server: &KeyPair, client_key_base64: &str, salt: &str) -> Result<Session, Error> {
        Session::new(&server.shared_secret(client_key_base64)?, salt)
    }

    /// A session from the 16 ASCII bytes of an AES key and a salt.
    pub fn from_aes_key(aes_key: [u8; 16], salt: &str) -> Result<Session, Error> {
        let iv: [u8; SALT_BYTES] = salt.as_bytes().try_into().map_err(|_| Error::InvalidSalt(salt.len()))?;
        Ok(Session { key: aes_key, iv })
    }

    fn cipher(&self) -> Aes128 {
        Aes128::new(&self.key.into())
    }

    /// `ASCII(base64(AES-128-CBC(PKCS7(plaintext))))`: a payload as it goes on the wire.
    pub fn encrypt(&self, plaintext: &[u8]) -> Bytes {
        self.encrypt_with(&self.cipher(), plaintext)
    }

    fn encrypt_with(&self, cipher: &Aes128, plaintext: &[u8]) -> Bytes {
        let mut buf = Vec::with_capacity(plaintext.len() + AES_BLOCK_BYTES);
        buf.extend_from_slice(plaintext);
        self.encrypt_in_place(cipher, &mut buf);
        Bytes::from(BASE64.encode(&buf).into_bytes())
    }

    /// AES-128-CBC/PKCS#7 of `buf`, in place: `buf` grows by the padding.
    fn encrypt_in_place(&self, cipher: &Aes128, buf: &mut Vec<u8>) {
        let len = buf.len();
        buf.resize((len / AES_BLOCK_BYTES + 1) * AES_BLOCK_BYTES, 0);
        CbcEncryptor::inner_iv_init(cipher.clone(), &self.iv.into())
            .encrypt_padded_mut::<Pkcs7>(buf, len)
            .expect("the buffer holds the padding");
    }

    /// The reverse of [`Session::encrypt`]: base64-decode the wire payload, decrypt, unpad.
    pub fn decrypt(&self, payload: &[u8]) -> Result<Vec<u8>, Error> {
        self.decrypt_with(&self.cipher(), payload)
    }

    fn decrypt_with(&self, cipher: &Aes128, payload: &[u8]) -> Result<Vec<u8>, Error> {
        let mut buf = BASE64.decode(payload).map_err(|_| Error::PayloadNotBase64)?;
        let len = CbcDecryptor::inner_iv_init(cipher.clone(), &self.iv.into())
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map_err(|_| Error::PayloadDecrypt)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }

    /// `lowercase_hex(MD5(ASCII(base64(AES(sign)))))`: 32 characters.
    pub fn msg_key(&self, sign: &[u8]) -> String {
        let mut owned = Vec::with_capacity(sign.len() + AES_BLOCK_BYTES);
        owned.extend_from_slice(sign);
        self.msg_key_of(&self.cipher(), owned)
    }

    /// [`Session::msg_key`] of a sign the caller gives up (it is encrypted in place), with
    /// the key schedule done already.
    fn msg_key_of(&self, cipher: &Aes128, mut sign: Vec<u8>) -> String {
        self.encrypt_in_place(cipher, &mut sign);
        // The base64 text is hashed as it is made, 48 bytes (64 characters) at a time: a
        // multiple of 3, so the pieces read exactly as the whole would.
        let mut md5 = Md5::new();
        let mut text = [0u8; 64];
        for piece in sign.chunks(48) {
            let len = BASE64.encode_slice(piece, &mut text).expect("48 bytes fit 64 characters");
            md5.update(&text[..len]);
        }
        String::from_utf8(lowercase_hex(&md5.finalize()).to_vec()).expect("hex is ASCII")
    }

    /// Server side of SEND: verify `msgKey` over the still-encrypted payload, then decrypt it.
    /// With the NO_ENCRYPT setting (Go clients only) the payload is plaintext and unchecked.
    pub fn open_send(&self, send: &Send) -> Result<Vec<u8>, Error> {
        if send.setting.contains(Setting::NO_ENCRYPT) {
            return Ok(send.payload.to_vec());
        }
        let cipher = self.cipher();
        if !constant_time_eq(self.msg_key_of(&cipher, send_sign(send)).as_bytes(), send.msg_key.as_bytes()) {
            return Err(Error::MsgKeyMismatch);
        }
        self.decrypt_with(&cipher, &send.payload)
    }

    /// Server side of RECV: encrypt `plaintext` for this connection into `recv.payload` and
    /// set `recv.msg_key` over it; every other field must already be final, since the msgKey
    /// covers them. With NO_ENCRYPT the payload goes in clear with an empty msgKey.
    pub fn seal_recv(&self, recv: &mut Recv, plaintext: &[u8]) {
        if recv.setting.contains(Setting::NO_ENCRYPT) {
            recv.payload = Bytes::copy_from_slice(plaintext);
            recv.msg_key.clear();
            return;
        }
        let cipher = self.cipher();
        recv.payload = self.encrypt_with(&cipher, plaintext);
        recv.msg_key = self.msg_key_of(&cipher, recv_sign(recv));
    }

    /// Client side of SEND (tests, simulated clients): what JS does before writing a SEND.
    pub fn seal_send(&self, send: &mut Send, plaintext: &[u8]) {
        if send.setting.contains(Setting::NO_ENCRYPT) {
            send.payload = Bytes::copy_from_slice(plaintext);
            send.msg_key.clear();
            return;
        }
        let cipher = self.cipher();
        send.payload = self.encrypt_with(&cipher, plaintext);
        send.msg_key = self.msg_key_of(&cipher, send_sign(send));
    }

    /// Client side of RECV: what JS does before accepting a RECV (it drops it silently on a
    /// mismatch and sends no RECVACK).
    pub fn open_recv(&self, recv: &Recv) -> Result<Vec<u8>, Error> {
        if recv.setting.contains(Setting::NO_ENCRYPT) {
            return Ok(recv.payload.to_vec());
        }
        let cipher = self.cipher();
        if !constant_time_eq(self.msg_key_of(&cipher, recv_sign(recv)).as_bytes(), recv.msg_key.as_bytes()) {
            return Err(Error::MsgKeyMismatch);
        }
        self.decrypt_with(&cipher, &recv.payload)
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

/// Compares without an early exit, so the time taken does not tell how much of a forged msgKey
/// was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_msg_key_hashes_the_base64_text_as_one_piece_would() {
        let session = Session::from_aes_key(*b"0123456789abcdef", "abcdefghijklmnop").unwrap();
        // Signs around the 48-byte pieces of the streamed base64, and the padding's block.
        for len in (0..=200).chain([1000, 4095, 4096]) {
            let sign: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let ciphertext = CbcEncryptor::inner_iv_init(session.cipher(), &session.iv.into())
                .encrypt_padded_vec_mut::<Pkcs7>(&sign);
            let whole = Md5::digest(BASE64.encode(ciphertext).as_bytes());
            let expected = String::from_utf8(lowercase_hex(&whole).to_vec()).unwrap();
            assert_eq!(session.msg_key(&sign), expected, "sign of {len} bytes");
        }
    }
}
