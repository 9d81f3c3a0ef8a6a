//! AWS adapters of the ports defined in the `channels` domain crate, and what
//! a Lambda function's `main` does before it serves.
//!
//! | module      | feature    | adapter                                                        |
//! |-------------|------------|----------------------------------------------------------------|
//! | [`dynamo`]  | `dynamodb` | `ConnectionStore` on DynamoDB; the table layout in [`schema`]  |
//! | [`apigw`]   | `apigw`    | `ConnectionNotifier` on the API Gateway Management API          |
//! | [`kms`]     | `kms`      | `TokenSigner` on an asymmetric KMS key (`ECC_NIST_P256`)       |
//! | [`sqs`]     | `sqs`      | `PublishQueue` on an SQS queue                                 |
//! | [`jwks`]    | `jwks`     | `JwksFetcher` over HTTPS (identity providers' keys)            |
//! | [`lazy`]    | always     | a client made on first use, for what few invocations need      |
//! | [`runtime`] | always     | logging as Lambda expects, configuration read at init          |
//! | [`sdk`]     | always     | the SDK configuration from Lambda's variables, one HTTPS client |
//!
//! Dependencies point one way: this crate depends on `channels`, never the
//! reverse. Each adapter is behind its own feature so that a binary links only
//! the SDK clients it calls: rx enables `dynamodb` alone and so carries no
//! `@connections` client.

#[cfg(feature = "apigw")]
pub mod apigw;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
#[cfg(feature = "jwks")]
pub mod jwks;
#[cfg(feature = "kms")]
pub mod kms;
pub mod lazy;
pub mod runtime;
/// The table layout lives in the domain (the stream handler reads it too);
/// re-exported here beside the adapter that writes it.
pub use channels::schema;
pub mod sdk;
#[cfg(feature = "sqs")]
pub mod sqs;
#[cfg(feature = "testing")]
pub mod testing;
