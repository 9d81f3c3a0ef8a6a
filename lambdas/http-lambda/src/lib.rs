//! The publishing package: the handlers of the functions built from the
//! http binary, each its own Lambda function with its own role.
//!
//! | function | `handler` (`_HANDLER`) | module | events |
//! |---|---|---|---|
//! | http | `bootstrap` (anything else) | [`api`] | the HTTP API (payload 2.0): publish, count, catch up, presence, tokens |
//! | commands | [`COMMANDS_HANDLER`] | [`commands`] | the WebSocket command routes ([`COMMAND_ROUTES`]) |
//! | worker | [`WORKER_HANDLER`] | [`worker`] | the publish queue (SQS): one shard of a big publish per record |
//! | presence | [`PRESENCE_HANDLER`] | [`presence`] | the table's stream: join and leave events |
//!
//! The handlers take the store, notifier, queue and signer through the
//! domain's ports and link no AWS SDK; the binary (feature `aws`) wires in
//! the AWS adapters, and the local gateway its own.

pub mod api;
pub mod commands;
pub mod metrics;
pub mod presence;
mod request;
mod respond;
pub mod routes;
pub mod sqs;
pub mod tokens;
pub mod worker;

pub use api::{handle, Deps};
pub use routes::{
    match_route, RouteMatch, COMMAND_ROUTES, DEFAULT_ROUTE_KEY, OPEN_ROUTES, PING_ROUTE, PONG,
    ROUTES, RX_ROUTES,
};
pub use tokens::Tokens;

/// The Lambda `handler` setting that starts this binary as the publish
/// queue's worker (Lambda passes it as `_HANDLER`); any other runs the HTTP
/// API handler.
pub const WORKER_HANDLER: &str = "worker";
/// The `handler` setting of the commands function: the WebSocket API's
/// command routes ([`COMMAND_ROUTES`]).
pub const COMMANDS_HANDLER: &str = "commands";
/// The `handler` setting of the presence function: the table's stream
/// (membership inserted or removed) turned into join and leave events.
pub const PRESENCE_HANDLER: &str = "presence";
