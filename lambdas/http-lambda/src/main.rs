//! The http package's `bootstrap`: the HTTP API handler, or with
//! `_HANDLER=worker` (the function's `handler` setting) the publish queue's
//! worker. One binary, two functions, each with its own role.

use channels::config::{HttpConfig, WorkerConfig};
use channels_aws::apigw::ApiGatewayNotifier;
use channels_aws::dynamo::DynamoStore;
use channels_aws::kms::KmsSigner;
use channels_aws::sqs::SqsQueue;
use http_lambda::worker::{worker_brake, WorkerDeps};
use http_lambda::{Deps, Tokens};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    if std::env::var("_HANDLER").is_ok_and(|h| h == http_lambda::WORKER_HANDLER) {
        worker().await
    } else {
        http().await
    }
}

async fn http() -> Result<(), Error> {
    let config = channels_aws::runtime::start(HttpConfig::from_env)?;
    let sdk = channels_aws::runtime::init(channels_aws::sdk::from_env)?;
    let deps = Deps {
        store: DynamoStore::from_conf(&sdk, config.table).with_shards(config.shards),
        notifier: ApiGatewayNotifier::from_conf(&sdk, &config.management_endpoint),
        publish: config.publish,
        tokens: config.tokens.map(|tokens| {
            let signer = KmsSigner::from_conf(&sdk, tokens.signing_key);
            Tokens::new(signer, tokens.minter, &tokens.verifier)
        }),
        queue: config.queue_url.map(|url| SqsQueue::from_conf(&sdk, url)),
        sync_max: config.sync_max,
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

async fn worker() -> Result<(), Error> {
    let config = channels_aws::runtime::start(WorkerConfig::from_env)?;
    let sdk = channels_aws::runtime::init(channels_aws::sdk::from_env)?;
    let deps = WorkerDeps {
        store: DynamoStore::from_conf(&sdk, config.table).with_shards(config.shards),
        notifier: ApiGatewayNotifier::from_conf(&sdk, &config.management_endpoint),
        queue: SqsQueue::from_conf(&sdk, config.queue_url),
        brake: worker_brake(config.publish.concurrency, config.rate_per_worker),
        publish: config.publish,
        metrics: true,
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(Box::pin(http_lambda::worker::handle(event, deps)).await)
    }))
    .await
}
