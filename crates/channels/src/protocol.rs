//! The client protocol `lrw.v1`: the commands a client sends and the
//! frames the server answers with.
//!
//! A command is a JSON object whose `action` names a command
//! (`subscribe`, `unsubscribe`, `publish`, `presence`, `ping`); anything
//! else (not JSON, not an object, no or an unknown `action`) is not a
//! command and is echoed, as the seed does ([`parse`] answers `None`). A
//! command with a bad field is answered with an error frame (400), and the
//! connection stays.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::fanout::{Published, MAX_KEY_CHARS};
use crate::history::Since;
use crate::message::Position;
use crate::presence::Presence;
use crate::ChannelName;

/// Longest `id`, in characters.
pub const MAX_ID_CHARS: usize = 64;

/// A command's action: the route API Gateway selects (`$request.body.action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Subscribe,
    Unsubscribe,
    Publish,
    Presence,
    Ping,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Self::Subscribe,
        Self::Unsubscribe,
        Self::Publish,
        Self::Presence,
        Self::Ping,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Subscribe => "subscribe",
            Self::Unsubscribe => "unsubscribe",
            Self::Publish => "publish",
            Self::Presence => "presence",
            Self::Ping => "ping",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// A parsed command.
#[derive(Clone, Debug)]
pub struct Command {
    /// Echoed in the reply.
    pub id: Option<String>,
    /// A fresh token: adds grants (same `sub` only) and moves the expiry.
    pub token: Option<String>,
    pub body: CommandBody,
}

/// What a command asks for.
#[derive(Clone, Debug)]
pub enum CommandBody {
    Subscribe {
        channel: ChannelName,
        since: Option<Since>,
    },
    Unsubscribe {
        channel: ChannelName,
    },
    Publish {
        channel: ChannelName,
        data: Box<RawValue>,
        include_self: bool,
        key: Option<String>,
    },
    Presence {
        channel: ChannelName,
    },
    Ping,
}

impl CommandBody {
    pub fn action(&self) -> Action {
        match self {
            Self::Subscribe { .. } => Action::Subscribe,
            Self::Unsubscribe { .. } => Action::Unsubscribe,
            Self::Publish { .. } => Action::Publish,
            Self::Presence { .. } => Action::Presence,
            Self::Ping => Action::Ping,
        }
    }

    /// The channel it names (all but `ping`).
    pub fn channel(&self) -> Option<&ChannelName> {
        match self {
            Self::Subscribe { channel, .. }
            | Self::Unsubscribe { channel }
            | Self::Publish { channel, .. }
            | Self::Presence { channel } => Some(channel),
            Self::Ping => None,
        }
    }
}

/// An error frame: `{"type":"error","id","code","message"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorFrame {
    pub id: Option<String>,
    pub code: u16,
    pub message: String,
}

impl ErrorFrame {
    pub fn new(id: Option<String>, code: u16, message: impl Into<String>) -> Self {
        Self {
            id,
            code,
            message: message.into(),
        }
    }

    pub fn to_json(&self) -> String {
        let mut frame = object("error", self.id.as_deref());
        frame.insert("code".into(), json!(self.code));
        frame.insert("message".into(), json!(self.message));
        Value::Object(frame).to_string()
    }
}

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow, default)]
    action: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    channel: Option<&'a RawValue>,
    /// Any JSON value, `null` included: present or not is what counts.
    #[serde(borrow, default, deserialize_with = "present")]
    data: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "self")]
    include_self: Option<&'a RawValue>,
    #[serde(borrow, default)]
    key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    token: Option<&'a RawValue>,
    #[serde(borrow, default)]
    since: Option<&'a RawValue>,
}

/// A field that is there, whatever its value (`null` too).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SinceField {
    offset: u64,
    epoch: String,
}

/// The command in `frame`; `None` when it is not one (to be echoed).
pub fn parse(frame: &str) -> Option<Result<Command, ErrorFrame>> {
    // An object only: serde would read the fields from an array too.
    if !frame.trim_start().starts_with('{') {
        return None;
    }
    let fields: Fields<'_> = serde_json::from_str(frame).ok()?;
    let action = Action::parse(&serde_json::from_str::<String>(fields.action?.get()).ok()?)?;
    Some(command(action, &fields))
}

fn command(action: Action, fields: &Fields<'_>) -> Result<Command, ErrorFrame> {
    let id = match fields.id {
        None => None,
        Some(raw) => match serde_json::from_str::<String>(raw.get()) {
            Ok(id) if id.chars().count() <= MAX_ID_CHARS => Some(id),
            _ => {
                return Err(ErrorFrame::new(
                    None,
                    400,
                    "id must be a string of at most 64 characters",
                ))
            }
        },
    };
    let bad = |message: String| ErrorFrame::new(id.clone(), 400, message);
    let string = |name: &str, raw: Option<&RawValue>| -> Result<Option<String>, ErrorFrame> {
        raw.map(|raw| {
            serde_json::from_str::<String>(raw.get())
                .map_err(|_| bad(format!("{name} must be a string")))
        })
        .transpose()
    };
    let token = string("token", fields.token)?;
    let channel = || -> Result<ChannelName, ErrorFrame> {
        let name = string("channel", fields.channel)?.ok_or_else(|| {
            bad(format!(
                "{} needs a channel: {{\"action\":\"{}\",\"channel\":\"lobby\"}}",
                action.as_str(),
                action.as_str()
            ))
        })?;
        ChannelName::parse(&name).map_err(|e| bad(e.to_string()))
    };
    let body = match action {
        Action::Ping => CommandBody::Ping,
        Action::Unsubscribe => CommandBody::Unsubscribe {
            channel: channel()?,
        },
        Action::Presence => CommandBody::Presence {
            channel: channel()?,
        },
        Action::Subscribe => {
            let channel = channel()?;
            let since = match fields.since {
                None => None,
                Some(raw) => {
                    // An object: serde would read the fields from an array too.
                    let object = raw.get().trim_start().starts_with('{');
                    let since: SinceField = serde_json::from_str(raw.get())
                        .ok()
                        .filter(|_| object)
                        .ok_or_else(|| {
                            bad("since must be {\"offset\":<whole number>,\"epoch\":\"…\"}"
                                .to_owned())
                        })?;
                    Some(Since {
                        offset: since.offset,
                        epoch: Some(since.epoch),
                    })
                }
            };
            CommandBody::Subscribe { channel, since }
        }
        Action::Publish => {
            let channel = channel()?;
            let data = fields.data.ok_or_else(|| {
                bad(
                    "publish needs data: {\"action\":\"publish\",\"channel\":\"lobby\",\"data\":…}"
                        .to_owned(),
                )
            })?;
            let include_self = match fields.include_self {
                None => false,
                Some(raw) => serde_json::from_str::<bool>(raw.get())
                    .map_err(|_| bad("self must be true or false".to_owned()))?,
            };
            let key = string("key", fields.key)?;
            if let Some(key) = &key {
                if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
                    return Err(bad("key must be 1 to 64 characters".to_owned()));
                }
            }
            CommandBody::Publish {
                channel,
                data: data.to_owned(),
                include_self,
                key,
            }
        }
    };
    Ok(Command { id, token, body })
}

fn object(kind: &str, id: Option<&str>) -> Map<String, Value> {
    let mut frame = Map::new();
    frame.insert("type".into(), json!(kind));
    if let Some(id) = id {
        frame.insert("id".into(), json!(id));
    }
    frame
}

/// `{"type":"subscribed","id","channel","offset","epoch","recovered"?}`;
/// `recovered` only for a subscribe with `since`.
pub fn subscribed(
    id: Option<&str>,
    channel: &ChannelName,
    position: &Position,
    recovered: Option<bool>,
) -> String {
    let mut frame = object("subscribed", id);
    frame.insert("channel".into(), json!(channel.as_str()));
    frame.insert("offset".into(), json!(position.offset));
    frame.insert("epoch".into(), json!(position.epoch));
    if let Some(recovered) = recovered {
        frame.insert("recovered".into(), json!(recovered));
    }
    Value::Object(frame).to_string()
}

/// `{"type":"unsubscribed","id","channel"}`.
pub fn unsubscribed(id: Option<&str>, channel: &ChannelName) -> String {
    let mut frame = object("unsubscribed", id);
    frame.insert("channel".into(), json!(channel.as_str()));
    Value::Object(frame).to_string()
}

/// `{"type":"published","id","channel","offset",…}`: the counts of a
/// synchronous publish, the `publishId` of an asynchronous one, or
/// `"duplicate":true` with zero counts for a key seen before.
pub fn published(id: Option<&str>, channel: &ChannelName, published: &Published) -> String {
    let mut frame = object("published", id);
    frame.insert("channel".into(), json!(channel.as_str()));
    match published {
        Published::Sync { position, report } => {
            frame.insert("offset".into(), json!(position.offset));
            frame.insert("recipients".into(), json!(report.recipients));
            frame.insert("delivered".into(), json!(report.delivered));
            frame.insert("gone".into(), json!(report.gone));
            frame.insert("failed".into(), json!(report.failed));
        }
        Published::Async {
            position,
            publish_id,
            ..
        } => {
            frame.insert("offset".into(), json!(position.offset));
            frame.insert("publishId".into(), json!(publish_id));
            frame.insert("mode".into(), json!("async"));
        }
        Published::Duplicate { offset } => {
            frame.insert("offset".into(), json!(offset));
            frame.insert("duplicate".into(), json!(true));
            for name in ["recipients", "delivered", "gone", "failed"] {
                frame.insert(name.into(), json!(0));
            }
        }
    }
    Value::Object(frame).to_string()
}

/// `{"type":"presence","id","channel","connections","subjects"}`.
pub fn presence(id: Option<&str>, presence: &Presence) -> String {
    let mut frame = object("presence", id);
    frame.insert("channel".into(), json!(presence.channel));
    frame.insert("connections".into(), json!(presence.connections));
    frame.insert("subjects".into(), json!(presence.subjects));
    Value::Object(frame).to_string()
}

/// `{"type":"pong","id"}`.
pub fn pong(id: Option<&str>) -> String {
    Value::Object(object("pong", id)).to_string()
}
