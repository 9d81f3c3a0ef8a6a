use channels::config::RxConfig;
use channels_aws::dynamo::DynamoStore;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = channels_aws::runtime::start(RxConfig::from_env)?;
    let sdk = channels_aws::runtime::init(channels_aws::sdk::from_env)?;
    let deps = rx::Deps {
        store: DynamoStore::from_conf(&sdk, config.table).with_shards(config.shards),
        auth: config.auth,
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(rx::handle(event, deps).await)
    }))
    .await
}
