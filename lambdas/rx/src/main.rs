//! The rx `bootstrap`: the DynamoDB store and, for other issuers' tokens,
//! the HTTPS JWKS fetcher (built on its first fetch, never at init).

use channels::config::RxConfig;
use channels::token::auth::Auth;
use channels::token::issuers::Issuers;
use channels_aws::dynamo::DynamoStore;
use channels_aws::jwks::HttpsJwksFetcher;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = channels_aws::runtime::log_and_read_config(RxConfig::from_env)?;
    let sdk = channels_aws::runtime::read_config(channels_aws::sdk::from_env)?;
    let issuers = Issuers::new(
        config.issuers,
        HttpsJwksFetcher::new(),
        config.max_token_ttl_secs,
    );
    let deps = rx::Deps {
        store: DynamoStore::from_conf(&sdk, config.table).with_shards(config.shards),
        auth: Auth::new(config.auth, issuers),
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(rx::handle(event, deps).await)
    }))
    .await
}
