//! Checks that `terraform/` agrees with the code and with the hashicorp/aws
//! provider, without Terraform, a provider download or a network:
//!
//! - [`checks`]: the contract between `terraform/*.tf`, the `Makefile` and the
//!   constants the binaries use (`channels::config::RX_ENV` / `HTTP_ENV` /
//!   `WORKER_ENV` and where the token variables come from,
//!   `channels_aws::schema`, `http_lambda::ROUTES` / `OPEN_ROUTES` and each
//!   route's authorization, the KMS key that signs subscriber tokens and who
//!   may sign with it, `http_lambda::WORKER_HANDLER`, the publish queue, its
//!   dead-letter queue (`channels::job::MAX_RECEIVES`), its visibility timeout, the event source mapping
//!   that runs the worker and what each role may do with the queue);
//! - [`provider`]: every resource, data source, argument and nested block used
//!   in `terraform/` exists in the hashicorp/aws schema, and every required one
//!   is set. The schema is distilled by `provider_schema/distill.py` from the
//!   provider's CDK for Terraform bindings (`make tf-setup`).
//!
//! Terraform is parsed with `hcl-rs`; each check is a function over the parsed
//! files that returns its problems (empty when all agree), so that the tests in
//! `tests/` can run it on the real tree and on mutated copies of it.

pub mod checks;
pub mod eval;
pub mod makefile;
pub mod provider;
pub mod terraform;

pub use makefile::Makefile;
pub use provider::ProviderSchema;
pub use terraform::{Sources, Terraform};
