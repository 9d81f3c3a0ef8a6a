//! The presence function: the table's DynamoDB Stream (membership items
//! inserted or removed, TTL deletions included) turned into join and leave
//! events for the `lrw.v1` subscribers of the channels `PRESENCE_EVENTS`
//! names, for channels up to the synchronous size.
//!
//! Which change is a subject's first join or last leave is decided from the
//! memberships that exist when the batch is handled, never from counters:
//! the channel index (read once per channel, the same read that finds whom
//! to tell) names the candidates, and each candidate of a subject in the
//! batch is read strongly consistent from the table, with its subscribe
//! time ([`channels::presence::events`]): a subject with several
//! connections joins once and leaves when its last membership goes. A channel
//! past `sync_max` members gets no events: each event costs one post per
//! member. The stream event is parsed with plain types (what the stream
//! handler needs of it, no more); the answer reports the records to retry
//! (`ReportBatchItemFailures`).

use std::collections::HashMap;

use channels::fanout::{Delivery, Plan};
use channels::message::{presence_event, Framed};
use channels::presence::{events, ChangeKind, MembershipChange};
use channels::schema::{
    connection_pk, membership_sk, partition, ItemType, CHANNEL, INDEX_HASH_KEY, INDEX_RANGE_KEY,
    MEMBERSHIP_SK_PREFIX, PK, PROTOCOL, SHARD, SK, SUBJECT, SUBSCRIBED_AT, TTL_ATTRIBUTE, TYPE,
};
use channels::{
    ChannelName, ConnectionNotifier, Fanout, Membership, Pattern, Protocol, Shards, Store,
};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tracing::{error, info, Instrument};

/// What the presence function needs, built once per execution environment.
#[derive(Debug)]
pub struct PresenceDeps<S, N> {
    pub fanout: Fanout<S, N>,
    /// Channels whose subscribers get join and leave events.
    pub events: Vec<Pattern>,
}

/// A DynamoDB Stream event, as Lambda delivers it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

/// One stream record.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamRecord {
    #[serde(rename = "eventID", default)]
    pub event_id: Option<String>,
    /// `INSERT`, `MODIFY` or `REMOVE`.
    #[serde(default)]
    pub event_name: Option<String>,
    #[serde(default)]
    pub dynamodb: Option<StreamChange>,
    /// `{"type":"Service","principalId":"dynamodb.amazonaws.com"}` on a TTL deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_identity: Option<Value>,
}

/// The item images of a record.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamChange {
    #[serde(default)]
    pub keys: HashMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_image: Option<HashMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_image: Option<HashMap<String, Value>>,
    #[serde(default)]
    pub sequence_number: Option<String>,
}

/// The answer: the records to retry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: String,
}

fn string<'a>(image: &'a HashMap<String, Value>, name: &str) -> Option<&'a str> {
    image.get(name)?.get("S")?.as_str()
}

fn number(image: &HashMap<String, Value>, name: &str) -> Option<i64> {
    image.get(name)?.get("N")?.as_str()?.parse().ok()
}

/// The membership change a record describes; `None` for anything else
/// (another item type, a `MODIFY`, a record without its image).
pub fn membership_change(record: &StreamRecord) -> Option<MembershipChange> {
    let change = record.dynamodb.as_ref()?;
    let (kind, image) = match record.event_name.as_deref()? {
        "INSERT" => (ChangeKind::Insert, change.new_image.as_ref()?),
        "REMOVE" => (ChangeKind::Remove, change.old_image.as_ref()?),
        _ => return None,
    };
    let connection_id = string(image, PK)?.strip_prefix("conn#")?.to_owned();
    let channel = string(image, SK)?.strip_prefix(MEMBERSHIP_SK_PREFIX)?;
    let membership = Membership {
        connection_id,
        channel: ChannelName::parse(channel).ok()?,
        protocol: Protocol::parse(string(image, PROTOCOL).unwrap_or_default()),
        subject: string(image, SUBJECT).map(str::to_owned),
        expires_at: number(image, TTL_ATTRIBUTE).unwrap_or(0),
        subscribed_at_ms: number(image, SUBSCRIBED_AT).unwrap_or(0),
    };
    let expired = record.user_identity.as_ref().is_some_and(|identity| {
        identity.get("type").and_then(Value::as_str) == Some("Service")
            && identity
                .get("principalId")
                .and_then(Value::as_str)
                .is_some_and(|p| p.starts_with("dynamodb."))
    });
    Some(MembershipChange {
        kind,
        membership,
        expired,
    })
}

/// The stream record DynamoDB would write for `change` (the local gateway
/// plays the stream with it).
pub fn stream_record(change: &MembershipChange, shards: Shards, sequence: u64) -> StreamRecord {
    let m = &change.membership;
    let shard = shards.of(&m.connection_id);
    let mut image = HashMap::from([
        (PK.to_owned(), json!({"S": connection_pk(&m.connection_id)})),
        (
            SK.to_owned(),
            json!({"S": membership_sk(m.channel.as_str())}),
        ),
        (TYPE.to_owned(), json!({"S": ItemType::Membership.name()})),
        (CHANNEL.to_owned(), json!({"S": m.channel.as_str()})),
        (SHARD.to_owned(), json!({"N": shard.to_string()})),
        (
            INDEX_HASH_KEY.to_owned(),
            json!({"S": partition(m.channel.as_str(), shard)}),
        ),
        (INDEX_RANGE_KEY.to_owned(), json!({"S": m.connection_id})),
        (PROTOCOL.to_owned(), json!({"S": m.protocol.as_str()})),
        (
            TTL_ATTRIBUTE.to_owned(),
            json!({"N": m.expires_at.to_string()}),
        ),
        (
            SUBSCRIBED_AT.to_owned(),
            json!({"N": m.subscribed_at_ms.to_string()}),
        ),
    ]);
    if let Some(subject) = &m.subject {
        image.insert(SUBJECT.to_owned(), json!({"S": subject}));
    }
    let keys = HashMap::from([
        (PK.to_owned(), image[PK].clone()),
        (SK.to_owned(), image[SK].clone()),
    ]);
    let (event_name, new_image, old_image) = match change.kind {
        ChangeKind::Insert => ("INSERT", Some(image), None),
        ChangeKind::Remove => ("REMOVE", None, Some(image)),
    };
    StreamRecord {
        event_id: Some(format!("local-{sequence}")),
        event_name: Some(event_name.to_owned()),
        dynamodb: Some(StreamChange {
            keys,
            new_image,
            old_image,
            sequence_number: Some(format!("{sequence:021}")),
        }),
        user_identity: change
            .expired
            .then(|| json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"})),
    }
}

/// Handles one batch of stream records.
pub async fn handle<S, N>(
    event: LambdaEvent<StreamEvent>,
    deps: &PresenceDeps<S, N>,
) -> BatchResponse
where
    S: Store,
    N: ConnectionNotifier,
{
    let LambdaEvent { payload, context } = event;
    let span = tracing::info_span!("presence", request_id = %context.request_id);
    async {
        // Per channel (in the order they first appear): its changes, and the
        // sequence number of its first record, to retry from on failure.
        let mut channels: Vec<(ChannelName, Vec<MembershipChange>, Option<String>)> = Vec::new();
        for record in &payload.records {
            let Some(change) = membership_change(record) else {
                continue;
            };
            let channel = change.membership.channel.clone();
            if !deps.events.iter().any(|p| p.matches(&channel)) {
                continue;
            }
            match channels.iter_mut().find(|(c, _, _)| *c == channel) {
                Some((_, changes, _)) => changes.push(change),
                None => {
                    let sequence = record
                        .dynamodb
                        .as_ref()
                        .and_then(|d| d.sequence_number.clone());
                    channels.push((channel, vec![change], sequence));
                }
            }
        }
        let mut failures = Vec::new();
        for (channel, changes, sequence) in channels {
            if let Err(err) = Box::pin(announce(deps, &channel, &changes)).await {
                error!(channel = %channel, error = %err, "presence events failed; the records are retried");
                if let Some(sequence) = sequence {
                    failures.push(BatchItemFailure {
                        item_identifier: sequence,
                    });
                }
            }
        }
        BatchResponse {
            batch_item_failures: failures,
        }
    }
    .instrument(span)
    .await
}

/// Sends `channel`'s join and leave events to its `lrw.v1` members: the
/// index names them (and the candidates of each subject in the batch),
/// consistent reads of those candidates decide the events.
async fn announce<S, N>(
    deps: &PresenceDeps<S, N>,
    channel: &ChannelName,
    changes: &[MembershipChange],
) -> Result<(), channels::StoreError>
where
    S: Store,
    N: ConnectionNotifier,
{
    let fanout = &deps.fanout;
    let Plan::Sync(members) = fanout.plan(channel).await? else {
        info!(channel = %channel, "no presence events: the channel is past the synchronous size");
        return Ok(());
    };
    let brake = fanout.options.brake();
    for event in events(&fanout.store, channel, changes, &members).await? {
        let delivery = Delivery {
            channel: channel.clone(),
            framed: Framed::v1_only(presence_event(event.kind, channel, &event.subject)),
            exclude: None,
        };
        let report = fanout.deliver(&delivery, members.clone(), &brake).await;
        info!(
            channel = %channel,
            event = event.kind.as_str(),
            recipients = report.recipients,
            delivered = report.delivered,
            "presence event"
        );
    }
    Ok(())
}
