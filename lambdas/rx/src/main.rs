use channels::config::RxConfig;
use channels::dynamo::DynamoStore;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    channels::telemetry::init();
    // A bad configuration fails the init phase with a message naming the
    // variable (logged, and returned as text rather than as a Debug form).
    let config = RxConfig::from_env().map_err(|err| {
        tracing::error!(error = %err, "invalid configuration");
        Error::from(err.to_string())
    })?;
    let sdk = aws_config::load_from_env().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table);
    let store = &store;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(rx::handle(event, store).await)
    }))
    .await
}
