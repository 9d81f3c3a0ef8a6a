//! The SDK clients of the gateway's optional modes (feature `aws`): the
//! DynamoDB store, the SQS queue and the SDK notifier.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_apigatewaymanagement::config::Credentials;

/// A DynamoDB client for `endpoint`.
pub(crate) async fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let sdk = sdk_config(region_from_env(), dynamo_credentials()).await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// Credentials for local endpoints, which accept any.
fn dummy_credentials() -> Credentials {
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
