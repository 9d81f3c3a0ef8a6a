//! The connection store the gateway hands to both handlers, and the SDK
//! configuration of the clients it builds.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_apigatewaymanagement::config::Credentials;
use channels::memory::MemoryStore;
use channels::{ChannelName, Connection, ConnectionStore, Page, Shards, StoreError};
use channels_aws::dynamo::{ensure_table, DynamoStore};

/// Which store the gateway runs on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StoreConfig {
    /// The embedded in-memory store: nothing to install, gone on exit.
    #[default]
    Memory,
    /// The DynamoDB adapter the Lambda functions use, against any
    /// DynamoDB-compatible endpoint (DynamoDB Local, moto, LocalStack, or
    /// DynamoDB itself). The table is created when absent, with the layout
    /// Terraform declares.
    Dynamo { endpoint: String, table: String },
}

impl std::fmt::Display for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory => f.write_str("in-memory store"),
            Self::Dynamo { endpoint, table } => write!(f, "DynamoDB table {table} at {endpoint}"),
        }
    }
}

/// The store both handlers share. The port's traits return `impl Future`, so
/// they cannot be boxed as `dyn`; this enum delegates instead.
#[derive(Clone, Debug)]
pub enum Store {
    Memory(Arc<MemoryStore>),
    Dynamo(DynamoStore),
}

impl Store {
    /// Builds the store `config` describes, spreading channels over
    /// `shards`; for DynamoDB, creates the table when it is absent.
    pub async fn open(config: &StoreConfig, shards: Shards) -> Result<Self, StoreError> {
        match config {
            StoreConfig::Memory => Ok(Self::Memory(Arc::new(
                MemoryStore::new().with_shards(shards),
            ))),
            StoreConfig::Dynamo { endpoint, table } => {
                let sdk = sdk_config(region_from_env(), dynamo_credentials()).await;
                let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
                    .endpoint_url(endpoint)
                    .build();
                let client = aws_sdk_dynamodb::Client::from_conf(conf);
                ensure_table(&client, table).await?;
                Ok(Self::Dynamo(
                    DynamoStore::new(client, table.clone()).with_shards(shards),
                ))
            }
        }
    }
}

impl ConnectionStore for Store {
    fn shards(&self) -> Shards {
        match self {
            Self::Memory(store) => store.shards(),
            Self::Dynamo(store) => store.shards(),
        }
    }

    async fn put(&self, connection: &Connection) -> Result<(), StoreError> {
        match self {
            Self::Memory(store) => store.put(connection).await,
            Self::Dynamo(store) => store.put(connection).await,
        }
    }

    async fn remove(&self, connection_id: &str) -> Result<(), StoreError> {
        match self {
            Self::Memory(store) => store.remove(connection_id).await,
            Self::Dynamo(store) => store.remove(connection_id).await,
        }
    }

    async fn members(
        &self,
        channel: &ChannelName,
        shard: u16,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page, StoreError> {
        match self {
            Self::Memory(store) => store.members(channel, shard, cursor, limit).await,
            Self::Dynamo(store) => store.members(channel, shard, cursor, limit).await,
        }
    }

    async fn count(&self, channel: &ChannelName, shard: u16) -> Result<u64, StoreError> {
        match self {
            Self::Memory(store) => store.count(channel, shard).await,
            Self::Dynamo(store) => store.count(channel, shard).await,
        }
    }
}

/// Credentials for local endpoints, which accept any.
pub(crate) fn dummy_credentials() -> Credentials {
    Credentials::new("local", "local", None, None, "local-gateway")
}

/// `AWS_REGION` or `AWS_DEFAULT_REGION`, else `us-east-1`. Read from the
/// environment only: the SDK's full region chain would also ask the instance
/// metadata service, which is slow to fail on a laptop.
fn region_from_env() -> Region {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .map_or_else(|| Region::new("us-east-1"), Region::new)
}

/// The SDK's own credential chain when the user configured credentials
/// (environment, profile, credentials file); dummy credentials otherwise, so
/// that nothing waits on the instance metadata service.
fn dynamo_credentials() -> Option<Credentials> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let credentials_file = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".aws/credentials"))
        })
        .is_some_and(|path| path.is_file());
    let configured = set("AWS_ACCESS_KEY_ID")
        || set("AWS_PROFILE")
        || set("AWS_WEB_IDENTITY_TOKEN_FILE")
        || set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || credentials_file;
    (!configured).then(dummy_credentials)
}

async fn sdk_config(region: Region, credentials: Option<Credentials>) -> SdkConfig {
    // The same HTTPS client the Lambda functions use (plain HTTP for local
    // endpoints).
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .http_client(channels_aws::sdk::https_client());
    if let Some(credentials) = credentials {
        loader = loader.credentials_provider(credentials);
    }
    loader.load().await
}

/// The SDK configuration for talking to the gateway itself (the http
/// handler's `@connections` client; tests and tools may use it too): region
/// `us-east-1` and dummy static credentials. The SDK signs every request;
/// the gateway does not check signatures.
pub async fn local_sdk_config() -> SdkConfig {
    sdk_config(Region::new("us-east-1"), Some(dummy_credentials())).await
}
