//! What every function's `main` does before it serves: logging, then its
//! configuration, read once.

use channels::config::ConfigError;
use lambda_runtime::tracing::subscriber::{fmt, EnvFilter};

/// Installs the log subscriber: `lambda_runtime`'s own, except for JSON.
///
/// With `AWS_LAMBDA_LOG_FORMAT=JSON` (the function's log format is JSON) the
/// event's fields go at the top level of each line, where Lambda and Logs
/// Insights look for `message` and the rest; `lambda_runtime`'s subscriber
/// nests them under `"fields"`, so this one line format is ours. Level and
/// filter come from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`, as
/// in `lambda_runtime`.
pub fn init_logging() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if !json {
        lambda_runtime::tracing::init_default_subscriber();
        return;
    }
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let _already_set = fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_target(false)
        // Lambda stamps each line itself.
        .without_time()
        .with_env_filter(
            EnvFilter::try_new(level.to_ascii_lowercase())
                .unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .try_init();
}

/// Reads more configuration once logging is up (the SDK's, say); fails the
/// init phase the same way [`log_and_read_config`] does.
pub fn read_config<C>(
    from_env: impl FnOnce() -> Result<C, ConfigError>,
) -> Result<C, lambda_runtime::Error> {
    from_env().map_err(|err| {
        tracing::error!(error = %err, "invalid configuration");
        lambda_runtime::Error::from(err.to_string())
    })
}

/// Logging, then the configuration `from_env` reads. A bad configuration
/// fails the init phase with a message naming the variable, logged and
/// returned as text (never as a `Debug` form).
pub fn log_and_read_config<C>(
    from_env: impl FnOnce() -> Result<C, ConfigError>,
) -> Result<C, lambda_runtime::Error> {
    init_logging();
    read_config(from_env)
}
