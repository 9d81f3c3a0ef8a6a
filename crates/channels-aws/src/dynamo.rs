//! DynamoDB adapter of [`Store`]. The table layout is in [`crate::schema`];
//! what each call costs is in `docs/design.md`.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, DeleteRequest, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, Select, StreamSpecification,
    StreamViewType, TimeToLiveSpecification, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use crate::schema::{
    channel_pk, connection_pk, membership_sk, message_sk, partition, publish_key_sk, ItemType,
    BODY, CHANNEL, CHANNEL_INDEX, CLAIMED_AT, CONNECTED_AT, CONNECTION_SK, COUNTER_SK, EPOCH, FROM,
    GRANTS, INDEX_HASH_KEY, INDEX_PROJECTED, INDEX_RANGE_KEY, ISSUER, KIND, MEMBERSHIP_SK_PREFIX,
    MESSAGE_SK_PREFIX, OFFSET, PK, PROTOCOL, PUBLISH_GRANTS, SHARD, SK, SUBJECT, SUBSCRIBED_AT,
    SUBSCRIPTIONS, TOKEN_EXPIRES_AT, TTL_ATTRIBUTE, TYPE,
};
use channels::message::{new_epoch, Kind, Position, Publication, StoredMessage};
use channels::pattern::parse_all;
use channels::store::{KEY_CLAIM_STALE_SECS, KEY_WINDOW_SECS};
use channels::{
    now_millis, ChannelName, Connection, Grants, KeyClaim, Member, Membership, Page, Protocol,
    Shards, Store, StoreError, Subscribed, MAX_SUBSCRIPTIONS,
};

type Item = HashMap<String, AttributeValue>;

/// Everything in a DynamoDB table laid out as [`crate::schema`] describes.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    shards: Shards,
    page_limit: Option<i32>,
}

fn store_error<E, R>(operation: &'static str, err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::new(operation, DisplayErrorContext(err).to_string())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn get_ss(item: &Item, name: &str) -> Vec<String> {
    item.get(name)
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default()
}

fn now_secs() -> i64 {
    now_millis() / 1000
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// A string set, or nothing for an empty one (DynamoDB has no empty sets).
fn string_set(patterns: &[channels::Pattern]) -> Option<AttributeValue> {
    (!patterns.is_empty())
        .then(|| AttributeValue::Ss(patterns.iter().map(ToString::to_string).collect()))
}

/// The item of a connection.
pub fn connection_item(connection: &Connection) -> Item {
    let mut item = key(connection_pk(&connection.id), CONNECTION_SK.to_owned());
    item.insert(TYPE.into(), s(ItemType::Connection.name()));
    item.insert(PROTOCOL.into(), s(connection.protocol.as_str()));
    if let Some(grants) = string_set(&connection.grants.subscribe) {
        item.insert(GRANTS.into(), grants);
    }
    if let Some(publish) = string_set(&connection.grants.publish) {
        item.insert(PUBLISH_GRANTS.into(), publish);
    }
    if let Some(subject) = &connection.subject {
        item.insert(SUBJECT.into(), s(subject));
    }
    if let Some(issuer) = &connection.issuer {
        item.insert(ISSUER.into(), s(issuer));
    }
    if let Some(exp) = connection.token_expires_at {
        item.insert(TOKEN_EXPIRES_AT.into(), n(exp));
    }
    item.insert(SUBSCRIPTIONS.into(), n(connection.subscriptions));
    item.insert(CONNECTED_AT.into(), n(connection.connected_at_ms));
    item.insert(TTL_ATTRIBUTE.into(), n(connection.expires_at));
    item
}

fn parse_connection(item: &Item) -> Option<Connection> {
    let id = get_s(item, PK)?.strip_prefix("conn#")?.to_owned();
    let grants = Grants {
        subscribe: parse_all(&get_ss(item, GRANTS)).ok()?,
        publish: parse_all(&get_ss(item, PUBLISH_GRANTS)).ok()?,
    };
    Some(Connection {
        id,
        protocol: Protocol::parse(get_s(item, PROTOCOL).unwrap_or_default()),
        grants,
        subject: get_s(item, SUBJECT).map(str::to_owned),
        issuer: get_s(item, ISSUER).map(str::to_owned),
        token_expires_at: get_n(item, TOKEN_EXPIRES_AT),
        subscriptions: get_n(item, SUBSCRIPTIONS).unwrap_or(0),
        connected_at_ms: get_n(item, CONNECTED_AT).unwrap_or(0),
        expires_at: get_n(item, TTL_ATTRIBUTE)?,
    })
}

/// The item of a membership, in its shard of `shards`.
pub fn membership_item(membership: &Membership, shards: Shards) -> Item {
    let id = &membership.connection_id;
    let channel = membership.channel.as_str();
    let shard = shards.of(id);
    let mut item = key(connection_pk(id), membership_sk(channel));
    item.insert(TYPE.into(), s(ItemType::Membership.name()));
    item.insert(CHANNEL.into(), s(channel));
    item.insert(SHARD.into(), n(shard));
    item.insert(INDEX_HASH_KEY.into(), s(partition(channel, shard)));
    item.insert(INDEX_RANGE_KEY.into(), s(id));
    item.insert(PROTOCOL.into(), s(membership.protocol.as_str()));
    if let Some(subject) = &membership.subject {
        item.insert(SUBJECT.into(), s(subject));
    }
    item.insert(TTL_ATTRIBUTE.into(), n(membership.expires_at));
    item.insert(SUBSCRIBED_AT.into(), n(membership.subscribed_at_ms));
    item
}

/// A membership item back (also what the table's stream carries).
pub fn parse_membership(item: &Item) -> Option<Membership> {
    let connection_id = get_s(item, PK)?.strip_prefix("conn#")?.to_owned();
    let channel = get_s(item, SK)?.strip_prefix(MEMBERSHIP_SK_PREFIX)?;
    Some(Membership {
        connection_id,
        channel: ChannelName::parse(channel).ok()?,
        protocol: Protocol::parse(get_s(item, PROTOCOL).unwrap_or_default()),
        subject: get_s(item, SUBJECT).map(str::to_owned),
        expires_at: get_n(item, TTL_ATTRIBUTE).unwrap_or(0),
        // Items stored before memberships carried it count as subscribed at 0.
        subscribed_at_ms: get_n(item, SUBSCRIBED_AT).unwrap_or(0),
    })
}

fn message_item(message: &StoredMessage, expires_at: i64) -> Item {
    let p = &message.publication;
    let mut item = key(
        channel_pk(p.channel.as_str()),
        message_sk(message.position.offset),
    );
    item.insert(TYPE.into(), s(ItemType::Message.name()));
    item.insert(OFFSET.into(), n(message.position.offset));
    item.insert(EPOCH.into(), s(&message.position.epoch));
    item.insert(KIND.into(), s(p.kind.as_str()));
    item.insert(BODY.into(), AttributeValue::B(Blob::new(p.body.clone())));
    if let Some(from) = &p.from {
        item.insert(FROM.into(), s(from));
    }
    item.insert(TTL_ATTRIBUTE.into(), n(expires_at));
    item
}

fn parse_message(channel: &ChannelName, item: &Item) -> Option<StoredMessage> {
    Some(StoredMessage {
        publication: Publication {
            channel: channel.clone(),
            kind: Kind::parse(get_s(item, KIND)?)?,
            body: item.get(BODY)?.as_b().ok()?.as_ref().to_vec(),
            from: get_s(item, FROM).map(str::to_owned),
        },
        position: Position {
            offset: get_n(item, OFFSET)?,
            epoch: get_s(item, EPOCH)?.to_owned(),
        },
    })
}

fn position_of(item: Option<&Item>) -> Option<Position> {
    let item = item?;
    Some(Position {
        offset: get_n(item, OFFSET)?,
        epoch: get_s(item, EPOCH)?.to_owned(),
    })
}

/// Which items of a transaction failed their condition.
fn cancelled_conditions(
    err: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
) -> Option<Vec<bool>> {
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => Some(
            cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| r.code() == Some("ConditionalCheckFailed"))
                .collect(),
        ),
        _ => None,
    }
}

impl DynamoStore {
    /// `table` with every channel in one shard; see [`Self::with_shards`].
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            shards: Shards::ONE,
            page_limit: None,
        }
    }

    /// Spreads every channel over `shards` (the deployment's `CHANNEL_SHARDS`).
    pub fn with_shards(mut self, shards: Shards) -> Self {
        self.shards = shards;
        self
    }

    /// A client for `table`, configured from `sdk` (and
    /// `AWS_ENDPOINT_URL_DYNAMODB`, as the SDKs honour it).
    pub fn from_conf(sdk: &aws_types::SdkConfig, table: impl Into<String>) -> Self {
        let mut config = aws_sdk_dynamodb::config::Builder::from(sdk);
        if let Some(url) = crate::sdk::service_endpoint("DYNAMODB") {
            config = config.endpoint_url(url);
        }
        Self::new(Client::from_conf(config.build()), table)
    }

    /// Caps how many items one `Query` page examines (DynamoDB's own cap is
    /// 1 MB). Only the local gateway and tests need this.
    pub fn with_page_limit(mut self, limit: i32) -> Self {
        self.page_limit = Some(limit);
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn shard_query(
        &self,
        channel: &ChannelName,
        shard: u16,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(CHANNEL_INDEX)
            .key_condition_expression("#partition = :partition")
            .filter_expression("#expires > :now")
            .expression_attribute_names("#partition", INDEX_HASH_KEY)
            .expression_attribute_names("#expires", TTL_ATTRIBUTE)
            .expression_attribute_values(":partition", s(partition(channel.as_str(), shard)))
            .expression_attribute_values(":now", n(now_secs()))
            .set_limit(self.page_limit)
    }

    /// Every item of a connection (its own and its memberships), strongly
    /// consistent.
    async fn connection_items(&self, connection_id: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(connection_pk(connection_id)))
                .projection_expression(
                    "#pk, #sk, #type, #channel, #protocol, #subject, #expires, #subscribed",
                )
                .expression_attribute_names("#sk", SK)
                .expression_attribute_names("#type", TYPE)
                .expression_attribute_names("#channel", CHANNEL)
                .expression_attribute_names("#protocol", PROTOCOL)
                .expression_attribute_names("#subject", SUBJECT)
                .expression_attribute_names("#expires", TTL_ATTRIBUTE)
                .expression_attribute_names("#subscribed", SUBSCRIBED_AT)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| store_error("Query", e))?;
            items.extend(output.items().iter().cloned());
            start = output.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Deletes `keys`, 25 at a time, retrying what DynamoDB leaves unprocessed.
    async fn delete_all(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        for chunk in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|key| {
                    let delete = DeleteRequest::builder()
                        .set_key(Some(key.clone()))
                        .build()
                        .map_err(|e| StoreError::new("BatchWriteItem", e.to_string()))?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<_, StoreError>>()?;
            for attempt in 0..5u32 {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| store_error("BatchWriteItem", e))?;
                requests = output
                    .unprocessed_items()
                    .and_then(|u| u.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
            }
            if !requests.is_empty() {
                return Err(StoreError::new(
                    "BatchWriteItem",
                    format!("{} deletes still unprocessed after retries", requests.len()),
                ));
            }
        }
        Ok(())
    }

    async fn get(&self, key: Item, operation: &'static str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(operation, e))?;
        Ok(output.item().cloned())
    }
}

impl Store for DynamoStore {
    fn shards(&self) -> Shards {
        self.shards
    }

    async fn connect(
        &self,
        connection: &Connection,
        first: Option<&ChannelName>,
    ) -> Result<(), StoreError> {
        let mut connection = connection.clone();
        let membership = first.map(|channel| {
            connection.subscriptions = 1;
            membership_item(&connection.membership(channel), self.shards)
        });
        let put = |item: Item| {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
        };
        // Side by side: one round trip, as $connect's latency matters most.
        let own = put(connection_item(&connection));
        match membership {
            Some(membership) => {
                let (own, member) = tokio::join!(own, put(membership));
                own.map_err(|e| store_error("PutItem", e))?;
                member.map_err(|e| store_error("PutItem", e))?;
            }
            None => {
                own.await.map_err(|e| store_error("PutItem", e))?;
            }
        }
        Ok(())
    }

    async fn connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let item = self
            .get(
                key(connection_pk(connection_id), CONNECTION_SK.to_owned()),
                "GetItem",
            )
            .await?;
        let now = now_secs();
        Ok(item
            .as_ref()
            .and_then(parse_connection)
            .filter(|c| c.expires_at > now))
    }

    async fn membership(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> Result<Option<Membership>, StoreError> {
        let item = self
            .get(
                key(
                    connection_pk(connection_id),
                    membership_sk(channel.as_str()),
                ),
                "GetItem",
            )
            .await?;
        let now = now_secs();
        Ok(item
            .as_ref()
            .and_then(parse_membership)
            .filter(|m| m.expires_at > now))
    }

    async fn subscribe(
        &self,
        connection: &Connection,
        channel: &ChannelName,
    ) -> Result<Subscribed, StoreError> {
        let membership = membership_item(&connection.membership(channel), self.shards);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(membership))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| StoreError::new("TransactWriteItems", e.to_string()))?;
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                connection_pk(&connection.id),
                CONNECTION_SK.to_owned(),
            )))
            .update_expression("SET #count = #count + :one")
            .condition_expression("attribute_exists(#pk) AND #count < :max AND #expires > :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#count", SUBSCRIPTIONS)
            .expression_attribute_names("#expires", TTL_ATTRIBUTE)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(MAX_SUBSCRIPTIONS))
            .expression_attribute_values(":now", n(now_secs()))
            .build()
            .map_err(|e| StoreError::new("TransactWriteItems", e.to_string()))?;
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(count).build())
            .send()
            .await;
        let err = match written {
            Ok(_) => return Ok(Subscribed::Added),
            Err(err) => err,
        };
        match cancelled_conditions(&err).as_deref() {
            Some([true, ..]) => Ok(Subscribed::Already),
            Some([false, true]) => match self.connection(&connection.id).await? {
                Some(_) => Ok(Subscribed::Full),
                None => Ok(Subscribed::NoConnection),
            },
            _ => Err(store_error("TransactWriteItems", err)),
        }
    }

    async fn unsubscribe(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> Result<bool, StoreError> {
        let membership_key = key(
            connection_pk(connection_id),
            membership_sk(channel.as_str()),
        );
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(membership_key.clone()))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| StoreError::new("TransactWriteItems", e.to_string()))?;
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                connection_pk(connection_id),
                CONNECTION_SK.to_owned(),
            )))
            .update_expression("SET #count = #count - :one")
            .condition_expression("attribute_exists(#pk) AND #count > :zero")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#count", SUBSCRIPTIONS)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .build()
            .map_err(|e| StoreError::new("TransactWriteItems", e.to_string()))?;
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .transact_items(TransactWriteItem::builder().update(count).build())
            .send()
            .await;
        let err = match written {
            Ok(_) => return Ok(true),
            Err(err) => err,
        };
        match cancelled_conditions(&err).as_deref() {
            Some([true, ..]) => Ok(false),
            // The connection item is gone (or its counter is off): the
            // membership goes all the same.
            Some([false, true]) => {
                let old = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(membership_key))
                    .return_values(ReturnValue::AllOld)
                    .send()
                    .await
                    .map_err(|e| store_error("DeleteItem", e))?;
                Ok(old.attributes().is_some())
            }
            _ => Err(store_error("TransactWriteItems", err)),
        }
    }

    async fn add_grants(
        &self,
        connection_id: &str,
        grants: &Grants,
        token_expires_at: i64,
    ) -> Result<(), StoreError> {
        let connection_key = key(connection_pk(connection_id), CONNECTION_SK.to_owned());
        let mut adds = Vec::new();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(connection_key.clone()))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        if let Some(set) = string_set(&grants.subscribe) {
            adds.push("#grants :grants");
            update = update
                .expression_attribute_names("#grants", GRANTS)
                .expression_attribute_values(":grants", set);
        }
        if let Some(set) = string_set(&grants.publish) {
            adds.push("#publish :publish");
            update = update
                .expression_attribute_names("#publish", PUBLISH_GRANTS)
                .expression_attribute_values(":publish", set);
        }
        let later = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(connection_key))
            .update_expression("SET #exp = :exp")
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(#exp) OR #exp < :exp)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", TOKEN_EXPIRES_AT)
            .expression_attribute_values(":exp", n(token_expires_at))
            .send();
        let is_condition = |err: &SdkError<_, _>| {
            err.as_service_error().is_some_and(
                aws_sdk_dynamodb::operation::update_item::UpdateItemError::is_conditional_check_failed_exception,
            )
        };
        let (added, moved) = if adds.is_empty() {
            (Ok(None), later.await)
        } else {
            let add = update
                .update_expression(format!("ADD {}", adds.join(", ")))
                .send();
            let (added, moved) = tokio::join!(add, later);
            (added.map(Some), moved)
        };
        match added {
            Ok(_) => {}
            Err(err) if is_condition(&err) => {}
            Err(err) => return Err(store_error("UpdateItem", err)),
        }
        match moved {
            Ok(_) => Ok(()),
            // Not later, or no connection: nothing to move.
            Err(err) if is_condition(&err) => Ok(()),
            Err(err) => Err(store_error("UpdateItem", err)),
        }
    }

    async fn disconnect(&self, connection_id: &str) -> Result<Vec<Membership>, StoreError> {
        let items = self.connection_items(connection_id).await?;
        let memberships = items.iter().filter_map(parse_membership).collect();
        let keys = items
            .iter()
            .filter_map(|item| {
                Some(key(
                    get_s(item, PK)?.to_owned(),
                    get_s(item, SK)?.to_owned(),
                ))
            })
            .collect();
        // DeleteItem on a missing key succeeds: a repeated $disconnect is fine.
        self.delete_all(keys).await?;
        Ok(memberships)
    }

    async fn members(
        &self,
        channel: &ChannelName,
        shard: u16,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page, StoreError> {
        // The index's LastEvaluatedKey is its keys and the table's: the
        // cursor carries the connection id, from which all four follow.
        let start = cursor.map(|id| {
            let mut start = key(connection_pk(&id), membership_sk(channel.as_str()));
            start.insert(
                INDEX_HASH_KEY.to_owned(),
                s(partition(channel.as_str(), shard)),
            );
            start.insert(INDEX_RANGE_KEY.to_owned(), s(id));
            start
        });
        let limit = match (limit.and_then(|l| i32::try_from(l).ok()), self.page_limit) {
            (Some(asked), Some(own)) => Some(asked.min(own)),
            (asked, own) => asked.or(own),
        };
        let output = self
            .shard_query(channel, shard)
            .set_limit(limit)
            .projection_expression("#id, #protocol, #subject")
            .expression_attribute_names("#id", INDEX_RANGE_KEY)
            .expression_attribute_names("#protocol", PROTOCOL)
            .expression_attribute_names("#subject", SUBJECT)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| store_error("Query", e))?;
        let members = output
            .items()
            .iter()
            .filter_map(|item| {
                Some(Member {
                    connection_id: get_s(item, INDEX_RANGE_KEY)?.to_owned(),
                    protocol: Protocol::parse(get_s(item, PROTOCOL).unwrap_or_default()),
                    subject: get_s(item, SUBJECT).map(str::to_owned),
                })
            })
            .collect();
        let next = output
            .last_evaluated_key()
            .and_then(|key| get_s(key, INDEX_RANGE_KEY).map(str::to_owned));
        Ok(Page { members, next })
    }

    async fn count(&self, channel: &ChannelName, shard: u16) -> Result<u64, StoreError> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let output = self
                .shard_query(channel, shard)
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| store_error("Query", e))?;
            total += u64::try_from(output.count()).unwrap_or(0);
            start = output.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(total);
            }
        }
    }

    async fn next_offset(&self, channel: &ChannelName) -> Result<Position, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                channel_pk(channel.as_str()),
                COUNTER_SK.to_owned(),
            )))
            .update_expression(
                "SET #offset = if_not_exists(#offset, :zero) + :one, \
                 #epoch = if_not_exists(#epoch, :epoch), #type = :type",
            )
            .expression_attribute_names("#offset", OFFSET)
            .expression_attribute_names("#epoch", EPOCH)
            .expression_attribute_names("#type", TYPE)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":epoch", s(new_epoch()))
            .expression_attribute_values(":type", s(ItemType::Counter.name()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| store_error("UpdateItem", e))?;
        position_of(output.attributes())
            .ok_or_else(|| StoreError::new("UpdateItem", "the counter came back without offset"))
    }

    async fn position(&self, channel: &ChannelName) -> Result<Position, StoreError> {
        let counter = key(channel_pk(channel.as_str()), COUNTER_SK.to_owned());
        if let Some(position) = position_of(self.get(counter.clone(), "GetItem").await?.as_ref()) {
            return Ok(position);
        }
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(counter))
            .update_expression(
                "SET #offset = if_not_exists(#offset, :zero), \
                 #epoch = if_not_exists(#epoch, :epoch), #type = :type",
            )
            .expression_attribute_names("#offset", OFFSET)
            .expression_attribute_names("#epoch", EPOCH)
            .expression_attribute_names("#type", TYPE)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":epoch", s(new_epoch()))
            .expression_attribute_values(":type", s(ItemType::Counter.name()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| store_error("UpdateItem", e))?;
        position_of(output.attributes())
            .ok_or_else(|| StoreError::new("UpdateItem", "the counter came back without offset"))
    }

    async fn append(&self, message: &StoredMessage, expires_at: i64) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(message_item(message, expires_at)))
            .send()
            .await
            .map_err(|e| store_error("PutItem", e))?;
        Ok(())
    }

    async fn messages(
        &self,
        channel: &ChannelName,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let mut messages = Vec::new();
        let mut start = None;
        let wanted = limit as usize;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .filter_expression("#expires > :now")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_names("#expires", TTL_ATTRIBUTE)
                .expression_attribute_values(":pk", s(channel_pk(channel.as_str())))
                .expression_attribute_values(":from", s(message_sk(after.saturating_add(1))))
                .expression_attribute_values(":to", s(message_sk(u64::MAX)))
                .expression_attribute_values(":now", n(now_secs()))
                .limit(
                    i32::try_from(wanted.saturating_sub(messages.len()))
                        .unwrap_or(i32::MAX)
                        .max(1),
                )
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| store_error("Query", e))?;
            messages.extend(
                output
                    .items()
                    .iter()
                    .filter(|item| {
                        get_s(item, SK).is_some_and(|sk| sk.starts_with(MESSAGE_SK_PREFIX))
                    })
                    .filter_map(|item| parse_message(channel, item)),
            );
            start = output.last_evaluated_key().cloned();
            if start.is_none() || messages.len() >= wanted {
                messages.truncate(wanted);
                return Ok(messages);
            }
        }
    }

    async fn claim_key(
        &self,
        channel: &ChannelName,
        publish_key: &str,
        now: i64,
    ) -> Result<KeyClaim, StoreError> {
        let item_key = key(channel_pk(channel.as_str()), publish_key_sk(publish_key));
        let mut item = item_key.clone();
        item.insert(TYPE.into(), s(ItemType::PublishKey.name()));
        item.insert(CLAIMED_AT.into(), n(now));
        item.insert(TTL_ATTRIBUTE.into(), n(now + KEY_WINDOW_SECS));
        let claimed = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // A key past its window counts as new, deleted by TTL or not; so
            // does a claim whose publish died before it took an offset.
            .condition_expression(
                "attribute_not_exists(#pk) OR #expires <= :now \
                 OR (attribute_not_exists(#offset) AND #claimed <= :stale)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#expires", TTL_ATTRIBUTE)
            .expression_attribute_names("#offset", OFFSET)
            .expression_attribute_names("#claimed", CLAIMED_AT)
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":stale", n(now - KEY_CLAIM_STALE_SECS))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match claimed {
            Ok(_) => Ok(KeyClaim::Claimed),
            Err(err) => match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failed)) => {
                    let offset = match failed.item() {
                        Some(old) => get_n(old, OFFSET),
                        // Not every DynamoDB-compatible store returns it.
                        None => self
                            .get(item_key, "GetItem")
                            .await?
                            .and_then(|old| get_n(&old, OFFSET)),
                    };
                    Ok(match offset {
                        Some(offset) => KeyClaim::Seen { offset },
                        None => KeyClaim::InProgress,
                    })
                }
                _ => Err(store_error("PutItem", err)),
            },
        }
    }

    async fn settle_key(
        &self,
        channel: &ChannelName,
        publish_key: &str,
        offset: u64,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                channel_pk(channel.as_str()),
                publish_key_sk(publish_key),
            )))
            .update_expression("SET #offset = :offset")
            .expression_attribute_names("#offset", OFFSET)
            .expression_attribute_values(":offset", n(offset))
            .send()
            .await
            .map_err(|e| store_error("UpdateItem", e))?;
        Ok(())
    }

    async fn release_key(
        &self,
        channel: &ChannelName,
        publish_key: &str,
    ) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(
                channel_pk(channel.as_str()),
                publish_key_sk(publish_key),
            )))
            .send()
            .await
            .map_err(|e| store_error("DeleteItem", e))?;
        Ok(())
    }
}

/// Creates `table` with the keys, index, TTL and stream of [`crate::schema`]
/// (what Terraform declares) unless it exists. For the local gateway and tests.
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => return Ok(()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) => {}
        // A bad endpoint or credentials: say so, rather than fail creating.
        Err(err) => return Err(store_error("DescribeTable", err)),
    }
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| StoreError::new("CreateTable", e.to_string()))
    };
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(|e| StoreError::new("CreateTable", e.to_string()))
    };
    let mut projection = Projection::builder().projection_type(ProjectionType::Include);
    for name in INDEX_PROJECTED {
        projection = projection.non_key_attributes(*name);
    }
    let index = GlobalSecondaryIndex::builder()
        .index_name(CHANNEL_INDEX)
        .key_schema(key(INDEX_HASH_KEY, KeyType::Hash)?)
        .key_schema(key(INDEX_RANGE_KEY, KeyType::Range)?)
        .projection(projection.build())
        .build()
        .map_err(|e| StoreError::new("CreateTable", e.to_string()))?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(PK)?)
        .attribute_definitions(attribute(SK)?)
        .attribute_definitions(attribute(INDEX_HASH_KEY)?)
        .attribute_definitions(attribute(INDEX_RANGE_KEY)?)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .global_secondary_indexes(index)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(|e| StoreError::new("CreateTable", e.to_string()))?,
        )
        .send()
        .await;
    match created {
        Ok(_) => {}
        // Someone else (another gateway) is creating it right now.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(err) => return Err(store_error("CreateTable", err)),
    }
    // DynamoDB accepts the TTL setting only once the table is ACTIVE.
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(Duration::from_secs(60))
        .await
        .map_err(|e| StoreError::new("DescribeTable", DisplayErrorContext(e).to_string()))?;
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(TTL_ATTRIBUTE)
        .build()
        .map_err(|e| StoreError::new("UpdateTimeToLive", e.to_string()))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| store_error("UpdateTimeToLive", e))?;
    Ok(())
}
