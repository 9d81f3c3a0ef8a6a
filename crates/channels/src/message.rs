//! What a publish carries, and the two forms it reaches members in.
//!
//! - A **raw** member (a connection without `lrw.v1`) gets the body: an
//!   HTTP publish's bytes, or the text of a socket publish's `data` (a
//!   string as itself).
//! - An **`lrw.v1`** member gets the envelope
//!   `{"type":"message","channel","data","offset","epoch","from"?,"encoding"?}`:
//!   `data` is the published JSON value (an HTTP body sent as
//!   `application/json` that parses, or a socket publish's `data`), else the
//!   body as a JSON string, or for bytes that are not UTF-8 their base64
//!   with `"encoding":"base64"`.
//!
//! Each form is built once per publish ([`Framed`]), never once per member.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{ChannelName, MAX_MESSAGE_BYTES};

/// How the body of a publication is to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The body is JSON text: `data` is that value.
    Json,
    /// The body is UTF-8 text: `data` is it as a JSON string.
    Text,
    /// The body is bytes: `data` is their base64, with `"encoding":"base64"`.
    Binary,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Text => "text",
            Self::Binary => "binary",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "json" => Some(Self::Json),
            "text" => Some(Self::Text),
            "binary" => Some(Self::Binary),
            _ => None,
        }
    }
}

/// Length of an epoch: 16 hex characters.
pub const EPOCH_LEN: usize = 16;

/// A new channel epoch: 64 random bits, hex.
pub fn new_epoch() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// Where a message stands in its channel: its offset (1 for the channel's
/// first publish) and the channel's epoch (a new epoch means the channel's
/// counter, and with it its history, was lost).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub offset: u64,
    pub epoch: String,
}

/// One publish's content: channel, body and how to read it, and who sent it
/// (the `sub` of a socket publish's token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publication {
    pub channel: ChannelName,
    pub kind: Kind,
    pub body: Vec<u8>,
    pub from: Option<String>,
}

/// A publication whose largest form would pass 128 KiB (413).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the message would be {bytes} bytes as {form}; the limit is {MAX_MESSAGE_BYTES} (128 KiB)")]
pub struct TooLarge {
    pub bytes: usize,
    pub form: &'static str,
}

impl Publication {
    /// An HTTP publish's body: JSON when sent as `application/json` and it
    /// parses, else text when UTF-8, else bytes.
    pub fn http(channel: ChannelName, body: Vec<u8>, json: bool) -> Self {
        let kind = if json && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok() {
            Kind::Json
        } else if std::str::from_utf8(&body).is_ok() {
            Kind::Text
        } else {
            Kind::Binary
        };
        Self {
            channel,
            kind,
            body,
            from: None,
        }
    }

    /// A socket publish's `data` (any JSON value), sent by `from`.
    pub fn socket(channel: ChannelName, data: &RawValue, from: Option<String>) -> Self {
        // A string reaches raw members as itself.
        let (kind, body) = match serde_json::from_str::<String>(data.get()) {
            Ok(text) => (Kind::Text, text.into_bytes()),
            Err(_) => (Kind::Json, data.get().as_bytes().to_vec()),
        };
        Self {
            channel,
            kind,
            body,
            from,
        }
    }

    /// What a raw member gets.
    pub fn raw(&self) -> &[u8] {
        &self.body
    }

    /// What an `lrw.v1` member gets, at `position`.
    pub fn envelope(&self, position: &Position) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 128);
        out.extend_from_slice(br#"{"type":"message","channel":"#);
        push_json_string(&mut out, self.channel.as_str());
        out.extend_from_slice(br#","data":"#);
        match self.kind {
            Kind::Json => out.extend_from_slice(&self.body),
            Kind::Text => push_json_string(&mut out, &String::from_utf8_lossy(&self.body)),
            Kind::Binary => push_json_string(&mut out, &STANDARD.encode(&self.body)),
        }
        out.extend_from_slice(br#","offset":"#);
        out.extend_from_slice(position.offset.to_string().as_bytes());
        out.extend_from_slice(br#","epoch":"#);
        push_json_string(&mut out, &position.epoch);
        if let Some(from) = &self.from {
            out.extend_from_slice(br#","from":"#);
            push_json_string(&mut out, from);
        }
        if self.kind == Kind::Binary {
            out.extend_from_slice(br#","encoding":"base64""#);
        }
        out.push(b'}');
        out
    }

    /// Refuses a publication whose raw form or envelope (at the longest
    /// offset) would pass 128 KiB: checked before it takes an offset.
    pub fn check_size(&self) -> Result<(), TooLarge> {
        if self.body.is_empty() {
            return Ok(());
        }
        if self.body.len() > MAX_MESSAGE_BYTES {
            return Err(TooLarge {
                bytes: self.body.len(),
                form: "its body",
            });
        }
        let longest = Position {
            offset: u64::MAX,
            epoch: "0".repeat(EPOCH_LEN),
        };
        let bytes = self.envelope(&longest).len();
        if bytes > MAX_MESSAGE_BYTES {
            return Err(TooLarge {
                bytes,
                form: "an lrw.v1 envelope",
            });
        }
        Ok(())
    }

    /// Both forms, built once.
    pub fn framed(&self, position: &Position) -> Framed {
        Framed {
            raw: Some(self.body.clone()),
            envelope: self.envelope(position),
        }
    }
}

/// What one fan-out posts: the raw form (`None`: raw members get nothing,
/// as for presence events) and the `lrw.v1` envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Framed {
    pub raw: Option<Vec<u8>>,
    pub envelope: Vec<u8>,
}

impl Framed {
    /// An event for `lrw.v1` members only.
    pub fn v1_only(envelope: Vec<u8>) -> Self {
        Self {
            raw: None,
            envelope,
        }
    }
}

/// What one fan-out delivers, and to whom: the members of `channel` but
/// `exclude`, each in its form of `framed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub channel: ChannelName,
    pub framed: Framed,
    /// A connection not to send it to: the sender of a socket publish.
    pub exclude: Option<String>,
}

/// A kept message: what history stores and a replay sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    pub publication: Publication,
    pub position: Position,
}

/// `s` as a JSON string.
fn push_json_string(out: &mut Vec<u8>, s: &str) {
    // Serialising a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// A join or leave event: `{"type":"join"|"leave","channel","subject"}`.
pub fn presence_event(kind: PresenceChange, channel: &ChannelName, subject: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + subject.len());
    out.extend_from_slice(br#"{"type":"#);
    push_json_string(&mut out, kind.as_str());
    out.extend_from_slice(br#","channel":"#);
    push_json_string(&mut out, channel.as_str());
    out.extend_from_slice(br#","subject":"#);
    push_json_string(&mut out, subject);
    out.push(b'}');
    out
}

/// A subject joining or leaving a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PresenceChange {
    Join,
    Leave,
}

impl PresenceChange {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Leave => "leave",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn lobby() -> ChannelName {
        ChannelName::parse("lobby").expect("valid")
    }

    fn at(offset: u64) -> Position {
        Position {
            offset,
            epoch: "e1".into(),
        }
    }

    fn parsed(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("the envelope is JSON")
    }

    #[test]
    fn an_http_json_body_is_data_as_json_and_reaches_raw_members_as_sent() {
        let p = Publication::http(lobby(), br#"{"a": [1, 2]}"#.to_vec(), true);
        assert_eq!(p.kind, Kind::Json);
        assert_eq!(p.raw(), br#"{"a": [1, 2]}"#);
        assert_eq!(
            parsed(&p.envelope(&at(7))),
            json!({"type":"message","channel":"lobby","data":{"a":[1,2]},"offset":7,"epoch":"e1"})
        );
    }

    #[test]
    fn text_and_json_that_does_not_parse_are_strings_and_bytes_are_base64() {
        let p = Publication::http(lobby(), b"{not json".to_vec(), true);
        assert_eq!(p.kind, Kind::Text);
        assert_eq!(parsed(&p.envelope(&at(1)))["data"], json!("{not json"));
        let p = Publication::http(lobby(), br#"{"a":1}"#.to_vec(), false);
        assert_eq!(parsed(&p.envelope(&at(1)))["data"], json!("{\"a\":1}"));
        let p = Publication::http(lobby(), vec![0xff, 0x00, 0x41], false);
        assert_eq!(p.kind, Kind::Binary);
        let envelope = parsed(&p.envelope(&at(1)));
        assert_eq!(envelope["data"], json!("/wBB"));
        assert_eq!(envelope["encoding"], json!("base64"));
    }

    #[test]
    fn a_socket_publish_string_reaches_raw_members_as_itself_and_carries_from() {
        let data = RawValue::from_string(r#""hi \"you\"""#.to_owned()).expect("json");
        let p = Publication::socket(lobby(), &data, Some("u-1".into()));
        assert_eq!(p.raw(), br#"hi "you""#);
        let envelope = parsed(&p.envelope(&at(3)));
        assert_eq!(envelope["data"], json!("hi \"you\""));
        assert_eq!(envelope["from"], json!("u-1"));
        let data = RawValue::from_string(r#"{"from":"mallory"}"#.to_owned()).expect("json");
        let p = Publication::socket(lobby(), &data, Some("u-1".into()));
        let envelope = parsed(&p.envelope(&at(3)));
        assert_eq!(envelope["from"], json!("u-1"), "never taken from data");
        assert_eq!(envelope["data"], json!({"from":"mallory"}));
    }

    #[test]
    fn the_size_check_counts_the_envelope_after_escaping() {
        // 100 KiB of quotes: the body fits, the escaped envelope does not.
        let p = Publication::http(lobby(), vec![b'"'; 100 * 1024], false);
        assert_eq!(
            p.check_size().map_err(|e| e.form),
            Err("an lrw.v1 envelope")
        );
        let p = Publication::http(lobby(), vec![b'a'; 100 * 1024], false);
        assert_eq!(p.check_size(), Ok(()));
        let p = Publication::http(lobby(), vec![0xff; 100 * 1024], false);
        assert!(p.check_size().is_err(), "base64 grows it by a third");
        let p = Publication::http(lobby(), vec![b'a'; MAX_MESSAGE_BYTES + 1], false);
        assert_eq!(p.check_size().map_err(|e| e.form), Err("its body"));
    }
}
