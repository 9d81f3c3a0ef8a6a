use channels::config::HttpConfig;
use channels_aws::apigw::ApiGatewayNotifier;
use channels_aws::dynamo::DynamoStore;
use http_lambda::Deps;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = channels_aws::runtime::start(HttpConfig::from_env)?;
    let sdk = aws_config::load_from_env().await;
    let deps = Deps {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table),
        notifier: ApiGatewayNotifier::from_conf(&sdk, &config.management_endpoint),
        publish: config.publish,
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(http_lambda::handle(event, deps).await)
    }))
    .await
}
