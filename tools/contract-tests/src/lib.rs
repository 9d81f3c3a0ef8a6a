//! Checks that `terraform/` agrees with the code and with the hashicorp/aws
//! provider, without Terraform, a provider download or a network:
//!
//! - [`checks`], one module per concern: each function's environment,
//!   handler, package and log format (`channels::config::*_ENV`,
//!   `http_lambda::*_HANDLER`, the Makefile); the table and its stream
//!   (`channels_aws::schema`); every role's permissions, evaluated; the HTTP
//!   routes and who may call them, CORS; the WebSocket routes and their
//!   integrations (`http_lambda::RX_ROUTES`, `COMMAND_ROUTES`, `PING_ROUTE`);
//!   the token variables, identity and signing key; the publish queue and
//!   its worker; the presence stream; the custom domains; the variables and
//!   their validations; the versions;
//! - [`eval`]: Terraform's expression language, enough of it to evaluate
//!   this configuration's variables, locals, arguments and outputs (the
//!   checks about values, and the tests that prove each validation refuses
//!   what it should);
//! - [`provider`]: every resource, data source, argument and nested block used
//!   in `terraform/` exists in the hashicorp/aws schema (or, for
//!   `terraform_data`, Terraform's built-in provider), and every required one
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
