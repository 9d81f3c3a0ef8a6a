use channels::config::HttpConfig;
use channels_aws::apigw::ApiGatewayNotifier;
use channels_aws::dynamo::DynamoStore;
use channels_aws::kms::KmsSigner;
use http_lambda::{Deps, Tokens};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
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
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        // Boxed: the handler's future is deep (every shard's fan-out inside),
        // and a box keeps the runtime's own future small.
        Ok::<_, Error>(Box::pin(http_lambda::handle(event, deps)).await)
    }))
    .await
}
