//! The http package's `bootstrap`: the HTTP API handler, or with
//! `_HANDLER` (the function's `handler` setting) `commands`, `worker` or
//! `presence`, another function's. One binary, four functions, each with
//! its own role. Here the AWS adapters are wired in; each function builds
//! the clients every invocation needs at init and the others on first use
//! (`@connections` for http and commands, whose reads, tokens, subscribes
//! without `since`, unsubscribes and pings do not post; SQS; KMS).

use channels::config::{CommandsConfig, FanoutConfig, HttpConfig, PresenceConfig, WorkerConfig};
use channels::token::auth::Auth;
use channels::token::issuers::Issuers;
use channels::Fanout;
use channels_aws::apigw::ApiGatewayNotifier;
use channels_aws::dynamo::DynamoStore;
use channels_aws::jwks::HttpsJwksFetcher;
use channels_aws::kms::KmsSigner;
use channels_aws::lazy::Lazy;
use channels_aws::runtime::{log_and_read_config, read_config};
use channels_aws::sqs::SqsQueue;
use http_lambda::commands::CommandsDeps;
use http_lambda::presence::PresenceDeps;
use http_lambda::worker::{worker_brake, WorkerDeps};
use http_lambda::{Deps, Tokens};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    match std::env::var("_HANDLER").as_deref() {
        Ok(http_lambda::WORKER_HANDLER) => worker().await,
        Ok(http_lambda::COMMANDS_HANDLER) => commands().await,
        Ok(http_lambda::PRESENCE_HANDLER) => presence().await,
        _ => http().await,
    }
}

/// The fan-out of a function that publishes: DynamoDB at init (all but a
/// few invocations read it: not tokens, key sets, 404s), `notifier` as the
/// function needs it, SQS on the first big publish.
fn fanout<N>(
    sdk: &aws_types::SdkConfig,
    config: FanoutConfig,
    notifier: N,
) -> Fanout<DynamoStore, N, Lazy<SqsQueue>> {
    let store = DynamoStore::from_conf(sdk, config.table).with_shards(config.shards);
    let mut fanout = Fanout::new(store, notifier, config.publish);
    fanout.queue = config.queue_url.map(|url| {
        let sdk = sdk.clone();
        Lazy::new(move || SqsQueue::from_conf(&sdk, url.clone()))
    });
    fanout.sync_max = config.sync_max;
    fanout.history = config.history;
    fanout
}

/// The `@connections` client, built on the first post.
fn lazy_notifier(sdk: &aws_types::SdkConfig, config: &FanoutConfig) -> Lazy<ApiGatewayNotifier> {
    let sdk = sdk.clone();
    let endpoint = config.management_endpoint.clone();
    Lazy::new(move || ApiGatewayNotifier::from_conf(&sdk, &endpoint))
}

async fn http() -> Result<(), Error> {
    let config = log_and_read_config(HttpConfig::from_env)?;
    let sdk = read_config(channels_aws::sdk::from_env)?;
    // `@connections` on the first publish: reads, tokens and key sets
    // never post.
    let notifier = lazy_notifier(&sdk, &config.fanout);
    let deps = Deps {
        fanout: fanout(&sdk, config.fanout, notifier),
        tokens: config.tokens.map(|tokens| {
            let sdk = sdk.clone();
            let key = tokens.signing_key;
            // KMS only for POST /tokens.
            let signer = Lazy::new(move || KmsSigner::from_conf(&sdk, key.clone()));
            Tokens::new(signer, tokens.minter, &tokens.verifier)
        }),
        metrics: true,
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        // Boxed: the handler's future is deep (every shard's fan-out inside),
        // and a box keeps the runtime's own future small.
        Ok::<_, Error>(Box::pin(http_lambda::handle(event, deps)).await)
    }))
    .await
}

async fn commands() -> Result<(), Error> {
    let config = log_and_read_config(CommandsConfig::from_env)?;
    let sdk = read_config(channels_aws::sdk::from_env)?;
    // Other issuers' keys over HTTPS, fetched on a first token, never at init.
    let issuers = Issuers::new(
        config.issuers,
        HttpsJwksFetcher::new(),
        config.max_token_ttl_secs,
    );
    // `@connections` on the first publish or replay: a subscribe without
    // `since`, an unsubscribe or a ping never posts.
    let notifier = lazy_notifier(&sdk, &config.fanout);
    let deps = CommandsDeps {
        fanout: fanout(&sdk, config.fanout, notifier),
        auth: Auth::new(config.auth, issuers),
        metrics: true,
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(Box::pin(http_lambda::commands::handle(event, deps)).await)
    }))
    .await
}

async fn worker() -> Result<(), Error> {
    let config = log_and_read_config(WorkerConfig::from_env)?;
    let sdk = read_config(channels_aws::sdk::from_env)?;
    let store = DynamoStore::from_conf(&sdk, config.table).with_shards(config.shards);
    let notifier = ApiGatewayNotifier::from_conf(&sdk, &config.management_endpoint);
    let mut fanout = Fanout::new(store, notifier, config.publish.clone());
    fanout.queue = Some(SqsQueue::from_conf(&sdk, config.queue_url));
    let deps = WorkerDeps {
        fanout,
        brake: worker_brake(config.publish.concurrency, config.rate_per_worker),
        metrics: true,
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(Box::pin(http_lambda::worker::handle(event, deps)).await)
    }))
    .await
}

async fn presence() -> Result<(), Error> {
    let config = log_and_read_config(PresenceConfig::from_env)?;
    let sdk = read_config(channels_aws::sdk::from_env)?;
    let store = DynamoStore::from_conf(&sdk, config.table).with_shards(config.shards);
    let notifier = ApiGatewayNotifier::from_conf(&sdk, &config.management_endpoint);
    let mut fanout = Fanout::<_, _>::new(store, notifier, config.publish);
    fanout.sync_max = config.sync_max;
    let deps = PresenceDeps {
        fanout,
        events: config.events,
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(Box::pin(http_lambda::presence::handle(event, deps)).await)
    }))
    .await
}
