//! DynamoDB adapter of [`ConnectionStore`]. The key design is in [`crate::schema`].

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, Select, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use crate::schema::{
    partition, CHANNEL_ATTRIBUTE, CHANNEL_INDEX, CONNECTED_AT, INDEX_HASH_KEY, INDEX_PROJECTED,
    INDEX_RANGE_KEY, TABLE_HASH_KEY, TTL_ATTRIBUTE,
};
use channels::{now_millis, ChannelName, Connection, ConnectionStore, Page, Shards, StoreError};

/// Connections in a DynamoDB table laid out as [`crate::schema`] describes.
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
            .expression_attribute_values(
                ":partition",
                AttributeValue::S(partition(channel.as_str(), shard)),
            )
            .expression_attribute_values(
                ":now",
                AttributeValue::N((now_millis() / 1000).to_string()),
            )
            .set_limit(self.page_limit)
    }
}

impl ConnectionStore for DynamoStore {
    fn shards(&self) -> Shards {
        self.shards
    }

    async fn put(&self, connection: &Connection) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(connection, self.shards)))
            .send()
            .await
            .map_err(|e| store_error("PutItem", e))?;
        Ok(())
    }

    async fn remove(&self, connection_id: &str) -> Result<(), StoreError> {
        // DeleteItem on a missing key succeeds: a repeated $disconnect is fine.
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(TABLE_HASH_KEY, AttributeValue::S(connection_id.to_owned()))
            .send()
            .await
            .map_err(|e| store_error("DeleteItem", e))?;
        Ok(())
    }

    async fn members(
        &self,
        channel: &ChannelName,
        shard: u16,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page, StoreError> {
        // The index's LastEvaluatedKey is {channelShard, connectionId}: the
        // cursor carries the connection id; the partition is known.
        let start = cursor.map(|id| {
            HashMap::from([
                (
                    INDEX_HASH_KEY.to_owned(),
                    AttributeValue::S(partition(channel.as_str(), shard)),
                ),
                (INDEX_RANGE_KEY.to_owned(), AttributeValue::S(id)),
            ])
        });
        let limit = match (limit.and_then(|l| i32::try_from(l).ok()), self.page_limit) {
            (Some(asked), Some(own)) => Some(asked.min(own)),
            (asked, own) => asked.or(own),
        };
        let output = self
            .shard_query(channel, shard)
            .set_limit(limit)
            .projection_expression("#id")
            .expression_attribute_names("#id", TABLE_HASH_KEY)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| store_error("Query", e))?;
        let connection_ids = output
            .items()
            .iter()
            .filter_map(|item| item.get(TABLE_HASH_KEY)?.as_s().ok().cloned())
            .collect();
        let next = output
            .last_evaluated_key()
            .and_then(|key| key.get(INDEX_RANGE_KEY)?.as_s().ok().cloned());
        Ok(Page {
            connection_ids,
            next,
        })
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
}

/// The item that stores `connection`, in its shard of `shards`.
pub fn item(connection: &Connection, shards: Shards) -> HashMap<String, AttributeValue> {
    let shard = shards.of(&connection.id);
    HashMap::from([
        (
            TABLE_HASH_KEY.to_owned(),
            AttributeValue::S(connection.id.clone()),
        ),
        (
            INDEX_HASH_KEY.to_owned(),
            AttributeValue::S(partition(connection.channel.as_str(), shard)),
        ),
        (
            CHANNEL_ATTRIBUTE.to_owned(),
            AttributeValue::S(connection.channel.to_string()),
        ),
        (
            CONNECTED_AT.to_owned(),
            AttributeValue::N(connection.connected_at_ms.to_string()),
        ),
        (
            TTL_ATTRIBUTE.to_owned(),
            AttributeValue::N(connection.expires_at.to_string()),
        ),
    ])
}

/// Creates `table` with the key schema, index and TTL of [`crate::schema`]
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
        .attribute_definitions(attribute(TABLE_HASH_KEY)?)
        .attribute_definitions(attribute(INDEX_HASH_KEY)?)
        .key_schema(key(TABLE_HASH_KEY, KeyType::Hash)?)
        .global_secondary_indexes(index)
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
