//! Hello world on `lambda_runtime`: the baseline the cold-start benchmark
//! compares rx and http with. It does what `cargo lambda new` generates:
//! installs the default log subscriber and echoes its event.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
