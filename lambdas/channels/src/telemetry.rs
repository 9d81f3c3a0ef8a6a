//! Logging through `tracing`, set up the way Lambda expects.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Where log lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Lambda: CloudWatch captures stdout.
    Stdout,
    /// The local gateway: stdout carries only the lines users copy.
    Stderr,
}

/// [`init_to`] standard output, as a Lambda function logs.
pub fn init() {
    init_to(Output::Stdout);
}

/// Installs the global subscriber: JSON lines when
/// `AWS_LAMBDA_LOG_FORMAT=JSON` (what Lambda sets for a function whose log
/// format is JSON), plain text otherwise, coloured only on a terminal. The
/// level comes from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`.
/// Calling it twice is harmless.
pub fn init_to(output: Output) {
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .and_then(|level| EnvFilter::try_new(level.to_ascii_lowercase()).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let (writer, terminal): (fn() -> Box<dyn std::io::Write>, bool) = match output {
        Output::Stdout => (
            || Box::new(std::io::stdout()),
            std::io::stdout().is_terminal(),
        ),
        Output::Stderr => (
            || Box::new(std::io::stderr()),
            std::io::stderr().is_terminal(),
        ),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer);
    let _already_set = if json {
        // Lambda stamps each line itself.
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .without_time()
            .try_init()
    } else {
        builder.with_ansi(terminal).try_init()
    };
}
