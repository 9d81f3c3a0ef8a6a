use channels::apigw::ApiGatewayNotifier;
use channels::config::HttpConfig;
use channels::dynamo::DynamoStore;
use http_lambda::Deps;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    channels::telemetry::init();
    // A bad configuration fails the init phase with a message naming the
    // variable (logged, and returned as text rather than as a Debug form).
    let config = HttpConfig::from_env().map_err(|err| {
        tracing::error!(error = %err, "invalid configuration");
        Error::from(err.to_string())
    })?;
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
