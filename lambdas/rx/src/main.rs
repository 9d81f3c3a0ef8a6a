use channels::config::RxConfig;
use channels_aws::dynamo::DynamoStore;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = channels_aws::runtime::start(RxConfig::from_env)?;
    let sdk = aws_config::load_from_env().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table);
    let store = &store;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(rx::handle(event, store).await)
    }))
    .await
}
