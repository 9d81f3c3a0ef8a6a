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
        store: DynamoStore::from_conf(&sdk, config.table),
        notifier: ApiGatewayNotifier::from_conf(&sdk, &config.management_endpoint),
        publish: config.publish,
        tokens: config.tokens.map(|tokens| {
            let signer = KmsSigner::from_conf(&sdk, tokens.signing_key);
            Tokens::new(signer, tokens.minter, &tokens.verifier)
        }),
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(http_lambda::handle(event, deps).await)
    }))
    .await
}
