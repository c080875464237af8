//! WuKongIM's second client protocol: JSON-RPC 2.0 over WebSocket text frames (wkproto.md §5).
//!
//! A WebSocket connection whose first non-whitespace byte is `{` ([`is_json_rpc`]) speaks this
//! for its whole life: no encryption, plaintext payloads. The server writes one object per
//! text frame ([`Message::to_vec`]) and reads a stream of concatenated objects
//! ([`JsonRpcDecoder`]). `jsonrpc` is optional (must be "2.0" when present); `id` is a string.
//!
//! | kind | c→s | s→c |
//! |---|---|---|
//! | request (`id`) | connect, send, subscribe, unsubscribe, ping, disconnect | – |
//! | response (`id`, `result` or `error`) | – | to each request; ping's has neither |
//! | notification (no `id`) | recvack | recv, event, disconnect, pong (older servers) |

mod params;
mod stream;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

pub use params::{
    ConnectParams, ConnectResult, DisconnectParams, ErrorObject, EventParams, Header, Payload, RecvAckParams,
    RecvParams, SendParams, SendResult, SettingFlags, SubscribeParams, SubscriptionResult, UnsubscribeParams,
};
pub use stream::JsonRpcDecoder;

use crate::error::Error;

const JSONRPC_VERSION: &str = "2.0";

/// One JSON-RPC message.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    Request(Request),
    Response(Response),
    Notification(Notification),
}

/// A request: it gets a [`Response`] with the same id.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub id: String,
    pub call: Call,
}

/// A request's method and params.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    Connect(ConnectParams),
    Send(SendParams),
    Subscribe(SubscribeParams),
    Unsubscribe(UnsubscribeParams),
    /// Params absent, `null` or `{}`.
    Ping,
    Disconnect(DisconnectParams),
}

/// A notification: no id, no answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Notification {
    Recv(RecvParams),
    RecvAck(RecvAckParams),
    Event(EventParams),
    Disconnect(DisconnectParams),
    /// `{"method":"pong"}`, what the doc and older servers send for a ping.
    Pong,
}

/// A response to the request with the same id.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub id: String,
    pub outcome: Outcome,
}

/// What a response carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// `result` (decode it with `serde_json::from_value` into the request's result type).
    Result(Value),
    /// Neither `result` nor `error`: Server v2's answer to `ping`.
    Empty,
    Error(ErrorObject),
}

impl Response {
    /// A successful response with a typed result ([`ConnectResult`], [`SendResult`], ...).
    pub fn result(id: String, result: &impl Serialize) -> Response {
        let value = serde_json::to_value(result).expect("result types serialize to JSON");
        Response { id, outcome: Outcome::Result(value) }
    }
}

/// Whether the first bytes of a WebSocket connection start a JSON-RPC conversation: the first
/// non-whitespace byte is `{` (Server v2 `IsJSONObjectPrefix`).
pub fn is_json_rpc(first_bytes: &[u8]) -> bool {
    first_bytes.iter().find(|&&b| !is_json_whitespace(b)) == Some(&b'{')
}

/// JSON's four whitespace bytes (not form feed, unlike `u8::is_ascii_whitespace`).
pub(crate) fn is_json_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// Deserializes a field that is present as `Some`, even when it is `null`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(deserializer).map(Some)
}

/// Every field any message can have; classified afterwards, as Server v2's `Probe`.
#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    jsonrpc: Option<String>,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default, deserialize_with = "present")]
    params: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "present")]
    result: Option<Box<RawValue>>,
    #[serde(default)]
    error: Option<ErrorObject>,
}

fn params<T: for<'de> Deserialize<'de>>(params: Option<Box<RawValue>>) -> Result<T, Error> {
    let params = params.ok_or(Error::JsonRpc("params missing"))?;
    Ok(serde_json::from_str(params.get())?)
}

impl Message {
    /// Decodes one whole message (one WebSocket text frame).
    pub fn decode(bytes: &[u8]) -> Result<Message, Error> {
        Message::classify(serde_json::from_slice(bytes)?)
    }

    fn classify(raw: Raw) -> Result<Message, Error> {
        if raw.jsonrpc.as_deref().is_some_and(|v| v != JSONRPC_VERSION) {
            return Err(Error::JsonRpc("`jsonrpc` must be \"2.0\" or absent"));
        }
        let id = match raw.id {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id),
            Some(_) => return Err(Error::JsonRpc("`id` must be a string")),
        };
        match (raw.method, id) {
            (Some(_), _) if raw.result.is_some() || raw.error.is_some() => {
                Err(Error::JsonRpc("a message with `method` cannot carry `result` or `error`"))
            }
            (Some(method), Some(id)) => Ok(Message::Request(Request { id, call: call(method, raw.params)? })),
            (Some(method), None) => Ok(Message::Notification(notification(method, raw.params)?)),
            (None, Some(id)) => {
                let outcome = match (raw.result, raw.error) {
                    (Some(_), Some(_)) => {
                        return Err(Error::JsonRpc("a response cannot carry both `result` and `error`"))
                    }
                    (Some(result), None) => Outcome::Result(serde_json::from_str(result.get())?),
                    (None, Some(error)) => Outcome::Error(error),
                    (None, None) => Outcome::Empty,
                };
                Ok(Message::Response(Response { id, outcome }))
            }
            (None, None) => Err(Error::JsonRpc("neither `method` nor `id`")),
        }
    }

    /// The message as one JSON object (one WebSocket text frame), with `"jsonrpc":"2.0"`.
    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(&Out::from(self)).expect("messages serialize to JSON")
    }
}

fn call(method: String, raw: Option<Box<RawValue>>) -> Result<Call, Error> {
    Ok(match method.as_str() {
        "connect" => Call::Connect(params(raw)?),
        "send" => Call::Send(params(raw)?),
        "subscribe" => Call::Subscribe(params(raw)?),
        "unsubscribe" => Call::Unsubscribe(params(raw)?),
        "ping" => {
            if let Some(raw) = raw {
                match serde_json::from_str::<Value>(raw.get())? {
                    Value::Null => {}
                    Value::Object(map) if map.is_empty() => {}
                    _ => return Err(Error::JsonRpc("ping takes no params")),
                }
            }
            Call::Ping
        }
        "disconnect" => Call::Disconnect(params(raw)?),
        _ => return Err(Error::UnknownMethod(method)),
    })
}

fn notification(method: String, raw: Option<Box<RawValue>>) -> Result<Notification, Error> {
    Ok(match method.as_str() {
        "recv" => Notification::Recv(params(raw)?),
        "recvack" => Notification::RecvAck(params(raw)?),
        "event" => Notification::Event(params(raw)?),
        "disconnect" => Notification::Disconnect(params(raw)?),
        "pong" => Notification::Pong,
        _ => return Err(Error::UnknownMethod(method)),
    })
}

/// The serialized shape of any message.
#[derive(Serialize)]
struct Out<'a> {
    jsonrpc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<OutParams<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a ErrorObject>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutParams<'a> {
    Connect(&'a ConnectParams),
    Send(&'a SendParams),
    Subscribe(&'a SubscribeParams),
    Unsubscribe(&'a UnsubscribeParams),
    Disconnect(&'a DisconnectParams),
    Recv(&'a RecvParams),
    RecvAck(&'a RecvAckParams),
    Event(&'a EventParams),
}

impl<'a> From<&'a Message> for Out<'a> {
    fn from(message: &'a Message) -> Out<'a> {
        let mut out =
            Out { jsonrpc: JSONRPC_VERSION, method: None, params: None, id: None, result: None, error: None };
        match message {
            Message::Request(request) => {
                out.id = Some(&request.id);
                let (method, params) = match &request.call {
                    Call::Connect(p) => ("connect", Some(OutParams::Connect(p))),
                    Call::Send(p) => ("send", Some(OutParams::Send(p))),
                    Call::Subscribe(p) => ("subscribe", Some(OutParams::Subscribe(p))),
                    Call::Unsubscribe(p) => ("unsubscribe", Some(OutParams::Unsubscribe(p))),
                    Call::Ping => ("ping", None),
                    Call::Disconnect(p) => ("disconnect", Some(OutParams::Disconnect(p))),
                };
                (out.method, out.params) = (Some(method), params);
            }
            Message::Notification(notification) => {
                let (method, params) = match notification {
                    Notification::Recv(p) => ("recv", Some(OutParams::Recv(p))),
                    Notification::RecvAck(p) => ("recvack", Some(OutParams::RecvAck(p))),
                    Notification::Event(p) => ("event", Some(OutParams::Event(p))),
                    Notification::Disconnect(p) => ("disconnect", Some(OutParams::Disconnect(p))),
                    Notification::Pong => ("pong", None),
                };
                (out.method, out.params) = (Some(method), params);
            }
            Message::Response(response) => {
                out.id = Some(&response.id);
                match &response.outcome {
                    Outcome::Result(value) => out.result = Some(value),
                    Outcome::Empty => {}
                    Outcome::Error(error) => out.error = Some(error),
                }
            }
        }
        out
    }
}
