//! Configuration from environment variables, read and validated once at init.

pub use crate::fanout::{
    DEFAULT_HISTORY_MAX, DEFAULT_HISTORY_TTL_SECONDS, DEFAULT_PUBLISH_SYNC_MAX,
};
pub use crate::token::auth::SubscriberAuth;
pub use crate::token::{DEFAULT_TOKEN_MAX_TTL_SECS, MAX_TOKEN_MAX_TTL_SECS};

use crate::fanout::History;
use crate::pattern::{parse_all, Pattern};
use crate::token::issuers::{parse_issuers, IssuerConfig};
use crate::token::{Minter, PublicKey, Verifier};
use crate::{PublishOptions, Shards};

/// Environment variables the rx binary reads.
pub const RX_ENV: &[&str] = &[
    LAMBDA_TABLE,
    CHANNEL_SHARDS,
    SUBSCRIBER_AUTH,
    TOKEN_PUBLIC_KEYS,
    TOKEN_AUDIENCE,
    TOKEN_ISSUER,
    TOKEN_ISSUERS,
    TOKEN_MAX_TTL_SECONDS,
];
/// Environment variables the http binary reads.
pub const HTTP_ENV: &[&str] = &[
    LAMBDA_TABLE,
    CHANNEL_SHARDS,
    MANAGEMENT_ENDPOINT,
    PUBLISH_CONCURRENCY,
    PUBLISH_MAX_ATTEMPTS,
    PUBLISH_QUEUE_URL,
    PUBLISH_SYNC_MAX,
    SUBSCRIBER_AUTH,
    TOKEN_PUBLIC_KEYS,
    TOKEN_AUDIENCE,
    TOKEN_ISSUER,
    TOKEN_SIGNING_KEY,
    TOKEN_MAX_TTL_SECONDS,
    HISTORY_TTL_SECONDS,
    HISTORY_MAX,
];
/// Environment variables the commands function reads (the http binary run
/// with `_HANDLER=commands`): the WebSocket routes `subscribe`,
/// `unsubscribe`, `publish` and `presence`.
pub const COMMANDS_ENV: &[&str] = &[
    LAMBDA_TABLE,
    CHANNEL_SHARDS,
    MANAGEMENT_ENDPOINT,
    PUBLISH_CONCURRENCY,
    PUBLISH_MAX_ATTEMPTS,
    PUBLISH_QUEUE_URL,
    PUBLISH_SYNC_MAX,
    SUBSCRIBER_AUTH,
    TOKEN_PUBLIC_KEYS,
    TOKEN_AUDIENCE,
    TOKEN_ISSUER,
    TOKEN_ISSUERS,
    TOKEN_MAX_TTL_SECONDS,
    HISTORY_TTL_SECONDS,
    HISTORY_MAX,
];
/// Environment variables the worker reads (the http binary run with
/// `_HANDLER=worker`: the same package, its own function and role).
pub const WORKER_ENV: &[&str] = &[
    LAMBDA_TABLE,
    CHANNEL_SHARDS,
    MANAGEMENT_ENDPOINT,
    PUBLISH_QUEUE_URL,
    PUBLISH_CONCURRENCY,
    PUBLISH_MAX_ATTEMPTS,
    PUBLISH_TARGET_RATE,
    WORKER_MAX_CONCURRENCY,
];
/// Environment variables the presence function reads (the http binary run
/// with `_HANDLER=presence`, triggered by the table's stream): join and
/// leave events.
pub const PRESENCE_ENV: &[&str] = &[
    LAMBDA_TABLE,
    CHANNEL_SHARDS,
    MANAGEMENT_ENDPOINT,
    PUBLISH_CONCURRENCY,
    PUBLISH_MAX_ATTEMPTS,
    PUBLISH_SYNC_MAX,
    PRESENCE_EVENTS,
];

/// DynamoDB table of connections (required).
pub const LAMBDA_TABLE: &str = "LAMBDA_TABLE";
/// Shards every channel is spread over, 1–256 (default 8); the same for
/// every function of a deployment, fixed for its life. See `channels::Shards`.
pub const CHANNEL_SHARDS: &str = "CHANNEL_SHARDS";
/// Default of [`CHANNEL_SHARDS`]. Eight index partitions take ~8,000 joins a
/// second per channel (16 times API Gateway's default new-connection rate)
/// and let eight workers deliver a big channel side by side, for a floor
/// cost of 8 × 0.5 RCU to list or count a small channel.
pub const DEFAULT_CHANNEL_SHARDS: u16 = 8;
/// The WebSocket API's management endpoint,
/// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` (required by http).
pub const MANAGEMENT_ENDPOINT: &str = "MANAGEMENT_ENDPOINT";
/// Posts in flight during a publish, 1–1024 (default 128).
pub const PUBLISH_CONCURRENCY: &str = "PUBLISH_CONCURRENCY";
/// Tries per connection for throttled or failing posts, 1–10 (default 4).
pub const PUBLISH_MAX_ATTEMPTS: &str = "PUBLISH_MAX_ATTEMPTS";

/// The SQS queue of shard jobs: where http hands big publishes to the
/// workers, and where workers hand on the rest of a shard. Empty or unset on
/// http: every publish is synchronous.
pub const PUBLISH_QUEUE_URL: &str = "PUBLISH_QUEUE_URL";
/// Members up to which a publish is synchronous (answered 200 with its
/// report); above, it is handed to the workers (202). 1–1,000,000.
pub const PUBLISH_SYNC_MAX: &str = "PUBLISH_SYNC_MAX";
/// `@connections` posts a second all workers together aim for (default
/// 10,000, API Gateway's default account quota); each worker takes its
/// share, `PUBLISH_TARGET_RATE / WORKER_MAX_CONCURRENCY`, and slows down
/// further on 429s.
pub const PUBLISH_TARGET_RATE: &str = "PUBLISH_TARGET_RATE";
pub const DEFAULT_PUBLISH_TARGET_RATE: u32 = 10_000;
/// How many workers may run at once: the queue trigger's maximum
/// concurrency (default 8).
pub const WORKER_MAX_CONCURRENCY: &str = "WORKER_MAX_CONCURRENCY";
pub const DEFAULT_WORKER_MAX_CONCURRENCY: u32 = 8;

/// Who may listen: `token` (a subscriber token on `$connect`) or `none`
/// (anyone who knows the URL). Required: the choice is never implicit.
pub const SUBSCRIBER_AUTH: &str = "SUBSCRIBER_AUTH";
/// Verification keys, comma-separated, each a P-256 public key as base64 DER
/// (SubjectPublicKeyInfo, what KMS `GetPublicKey` returns). The first is the
/// key tokens are minted with; the others are still accepted (rotation).
/// Required with `SUBSCRIBER_AUTH=token`.
pub const TOKEN_PUBLIC_KEYS: &str = "TOKEN_PUBLIC_KEYS";
/// The `aud` of every token: this deployment's identifier.
pub const TOKEN_AUDIENCE: &str = "TOKEN_AUDIENCE";
/// The `iss` of every token: who mints them in this deployment.
pub const TOKEN_ISSUER: &str = "TOKEN_ISSUER";
/// The KMS key (id, ARN or alias) that signs tokens; its public key is the
/// first of `TOKEN_PUBLIC_KEYS` (http only).
pub const TOKEN_SIGNING_KEY: &str = "TOKEN_SIGNING_KEY";
/// Longest token lifetime, 1–604800 s (default 86400): what `POST /tokens`
/// grants at most, and what a verifier accepts (`exp - iat`).
pub const TOKEN_MAX_TTL_SECONDS: &str = "TOKEN_MAX_TTL_SECONDS";

/// Tokens of other issuers (OIDC providers such as Cognito or Auth0): a JSON
/// array of `{"issuer","jwks_url","audience",…}`; empty or unset: none.
pub const TOKEN_ISSUERS: &str = "TOKEN_ISSUERS";

/// How long a channel's messages are kept for recovery, 0–86400 s (default
/// 600: a reconnect after API Gateway's 10-minute idle cut); 0 turns
/// history off (offsets are still taken).
pub const HISTORY_TTL_SECONDS: &str = "HISTORY_TTL_SECONDS";
/// How many of a channel's latest messages a replay may take, 0–100000
/// (default 1,000); 0 turns history off.
pub const HISTORY_MAX: &str = "HISTORY_MAX";

/// Channel patterns (comma-separated, `room-*` style) whose subscribers get
/// join and leave events; empty or unset: none.
pub const PRESENCE_EVENTS: &str = "PRESENCE_EVENTS";

/// A configuration problem; the message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// Configuration of the rx Lambda.
#[derive(Debug, Clone)]
pub struct RxConfig {
    pub table: String,
    pub shards: Shards,
    pub auth: SubscriberAuth,
    /// Other issuers whose tokens are accepted (token mode only).
    pub issuers: Vec<IssuerConfig>,
    /// The longest lifetime a token may have (`exp - iat`).
    pub max_token_ttl_secs: u64,
}

/// Configuration of the commands function.
#[derive(Debug, Clone)]
pub struct CommandsConfig {
    pub fanout: FanoutConfig,
    pub auth: SubscriberAuth,
    /// Other issuers whose tokens are accepted (token mode only).
    pub issuers: Vec<IssuerConfig>,
    /// The longest lifetime a token may have (`exp - iat`).
    pub max_token_ttl_secs: u64,
}

/// Configuration of the presence function.
#[derive(Debug, Clone)]
pub struct PresenceConfig {
    pub table: String,
    pub shards: Shards,
    pub management_endpoint: String,
    pub publish: PublishOptions,
    pub sync_max: u32,
    /// Channels whose subscribers get join and leave events.
    pub events: Vec<Pattern>,
}

/// How the http Lambda mints tokens (`SUBSCRIBER_AUTH=token`).
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// Every verification key (served as the JWKS), audience and issuer.
    pub verifier: Verifier,
    /// The signing key's public half, audience, issuer and maximum lifetime.
    pub minter: Minter,
    /// The KMS key that signs.
    pub signing_key: String,
}

/// What a function that publishes needs: the table, the `@connections`
/// endpoint, how to fan out, where big publishes go, history.
#[derive(Debug, Clone)]
pub struct FanoutConfig {
    pub table: String,
    pub shards: Shards,
    pub management_endpoint: String,
    pub publish: PublishOptions,
    /// `None` without `PUBLISH_QUEUE_URL`: a big channel is delivered shard
    /// by shard within the invocation.
    pub queue_url: Option<String>,
    /// Members up to which a publish is synchronous.
    pub sync_max: u32,
    pub history: History,
}

/// Configuration of the http Lambda.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub fanout: FanoutConfig,
    /// `None` with `SUBSCRIBER_AUTH=none`: no minting, no JWKS.
    pub tokens: Option<TokenConfig>,
}

/// Configuration of the worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub table: String,
    pub shards: Shards,
    pub management_endpoint: String,
    pub queue_url: String,
    pub publish: PublishOptions,
    /// This worker's share of `PUBLISH_TARGET_RATE`, posts a second.
    pub rate_per_worker: f64,
}

impl RxConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            table: table(&lookup)?,
            shards: shards(&lookup)?,
            auth: auth(&lookup)?,
            issuers: issuers(&lookup)?,
            max_token_ttl_secs: max_ttl(&lookup)?,
        })
    }
}

impl FanoutConfig {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            table: table(lookup)?,
            shards: shards(lookup)?,
            management_endpoint: endpoint(lookup, MANAGEMENT_ENDPOINT)?,
            publish: publish_options(lookup)?,
            queue_url: queue_url(lookup)?,
            sync_max: sync_max(lookup)?,
            history: history(lookup)?,
        })
    }
}

impl CommandsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            fanout: FanoutConfig::from_lookup(&lookup)?,
            auth: auth(&lookup)?,
            issuers: issuers(&lookup)?,
            max_token_ttl_secs: max_ttl(&lookup)?,
        })
    }
}

impl PresenceConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let value = lookup(PRESENCE_EVENTS).unwrap_or_default();
        let entries: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let events = parse_all(&entries).map_err(|e| {
            invalid(
                PRESENCE_EVENTS,
                &value,
                format!("{e}; expected channel patterns such as lobby,room-*"),
            )
        })?;
        Ok(Self {
            table: table(&lookup)?,
            shards: shards(&lookup)?,
            management_endpoint: endpoint(&lookup, MANAGEMENT_ENDPOINT)?,
            publish: publish_options(&lookup)?,
            sync_max: sync_max(&lookup)?,
            events,
        })
    }
}

/// `SUBSCRIBER_AUTH` and, with tokens, the verifier.
fn auth(lookup: &impl Fn(&str) -> Option<String>) -> Result<SubscriberAuth, ConfigError> {
    Ok(match token_mode(lookup)? {
        false => SubscriberAuth::None,
        true => SubscriberAuth::Token(verifier(lookup)?),
    })
}

/// `TOKEN_ISSUERS` in token mode (none in open mode, whatever it holds);
/// an entry may not claim our own issuer.
fn issuers(lookup: &impl Fn(&str) -> Option<String>) -> Result<Vec<IssuerConfig>, ConfigError> {
    if !token_mode(lookup)? {
        return Ok(Vec::new());
    }
    let value = lookup(TOKEN_ISSUERS).unwrap_or_default();
    let issuers =
        parse_issuers(&value).map_err(|e| invalid(TOKEN_ISSUERS, &value, e.to_string()))?;
    let ours = lookup(TOKEN_ISSUER).unwrap_or_default();
    if let Some(entry) = issuers.iter().find(|i| i.issuer == ours.trim()) {
        return Err(invalid(
            TOKEN_ISSUERS,
            &value,
            format!(
                "entry {:?} is this deployment's own issuer (TOKEN_ISSUER): its tokens are verified with TOKEN_PUBLIC_KEYS",
                entry.issuer
            ),
        ));
    }
    Ok(issuers)
}

/// `PUBLISH_QUEUE_URL`, when set.
fn queue_url(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    let queue_url = lookup(PUBLISH_QUEUE_URL)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    if let Some(url) = &queue_url {
        check_url(PUBLISH_QUEUE_URL, url)?;
    }
    Ok(queue_url)
}

fn sync_max(lookup: &impl Fn(&str) -> Option<String>) -> Result<u32, ConfigError> {
    let sync_max = number(
        lookup,
        PUBLISH_SYNC_MAX,
        1..=1_000_000,
        u64::from(DEFAULT_PUBLISH_SYNC_MAX),
    )?;
    Ok(u32::try_from(sync_max).unwrap_or(DEFAULT_PUBLISH_SYNC_MAX))
}

/// `HISTORY_TTL_SECONDS` and `HISTORY_MAX`.
fn history(lookup: &impl Fn(&str) -> Option<String>) -> Result<History, ConfigError> {
    Ok(History {
        ttl_secs: number(
            lookup,
            HISTORY_TTL_SECONDS,
            0..=86_400,
            DEFAULT_HISTORY_TTL_SECONDS,
        )?,
        max: number(lookup, HISTORY_MAX, 0..=100_000, DEFAULT_HISTORY_MAX)?,
    })
}

/// `TOKEN_MAX_TTL_SECONDS`.
fn max_ttl(lookup: &impl Fn(&str) -> Option<String>) -> Result<u64, ConfigError> {
    number(
        lookup,
        TOKEN_MAX_TTL_SECONDS,
        1..=MAX_TOKEN_MAX_TTL_SECS,
        DEFAULT_TOKEN_MAX_TTL_SECS,
    )
}

impl HttpConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let fanout = FanoutConfig::from_lookup(&lookup)?;
        let tokens = match token_mode(&lookup)? {
            false => None,
            true => {
                let verifier = verifier(&lookup)?;
                let max_ttl_secs = max_ttl(&lookup)?;
                let signing_key = required(&lookup, TOKEN_SIGNING_KEY)?;
                if signing_key.contains(char::is_whitespace) {
                    return Err(invalid(
                        TOKEN_SIGNING_KEY,
                        &signing_key,
                        "expected a KMS key id, key ARN or alias",
                    ));
                }
                let minter = Minter {
                    // `verifier` holds at least one key.
                    key: verifier.keys()[0].clone(),
                    audience: verifier.audience().to_owned(),
                    issuer: verifier.issuer().to_owned(),
                    max_ttl_secs,
                };
                Some(TokenConfig {
                    verifier,
                    minter,
                    signing_key,
                })
            }
        };
        Ok(Self { fanout, tokens })
    }
}

fn required(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    match lookup(name) {
        Some(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
        _ => Err(ConfigError::Missing(name)),
    }
}

fn invalid(name: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// DynamoDB table names: 3–255 characters of `a-z A-Z 0-9 _ - .`.
fn table(lookup: &impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let value = required(lookup, LAMBDA_TABLE)?;
    let ok_chars = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !(3..=255).contains(&value.len()) || !ok_chars {
        return Err(invalid(
            LAMBDA_TABLE,
            &value,
            "a DynamoDB table name is 3-255 characters of a-z A-Z 0-9 _ - .",
        ));
    }
    Ok(value)
}

impl WorkerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let publish = publish_options(&lookup)?;
        let target = number(
            &lookup,
            PUBLISH_TARGET_RATE,
            1..=1_000_000,
            u64::from(DEFAULT_PUBLISH_TARGET_RATE),
        )?;
        let workers = number(
            &lookup,
            WORKER_MAX_CONCURRENCY,
            1..=1000,
            u64::from(DEFAULT_WORKER_MAX_CONCURRENCY),
        )?;
        let queue_url = required(&lookup, PUBLISH_QUEUE_URL)?;
        check_url(PUBLISH_QUEUE_URL, &queue_url)?;
        Ok(Self {
            table: table(&lookup)?,
            shards: shards(&lookup)?,
            management_endpoint: endpoint(&lookup, MANAGEMENT_ENDPOINT)?,
            queue_url,
            publish,
            rate_per_worker: target as f64 / workers as f64,
        })
    }
}

/// `PUBLISH_CONCURRENCY` and `PUBLISH_MAX_ATTEMPTS`.
fn publish_options(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<PublishOptions, ConfigError> {
    let defaults = PublishOptions::default();
    let concurrency = number(
        lookup,
        PUBLISH_CONCURRENCY,
        1..=1024,
        PublishOptions::DEFAULT_CONCURRENCY as u64,
    )?;
    let max_attempts = number(
        lookup,
        PUBLISH_MAX_ATTEMPTS,
        1..=10,
        u64::from(PublishOptions::DEFAULT_MAX_ATTEMPTS),
    )?;
    Ok(PublishOptions {
        // Both fit: the ranges above are small.
        concurrency: usize::try_from(concurrency).unwrap_or(PublishOptions::DEFAULT_CONCURRENCY),
        max_attempts: u32::try_from(max_attempts).unwrap_or(PublishOptions::DEFAULT_MAX_ATTEMPTS),
        ..defaults
    })
}

fn check_url(name: &'static str, value: &str) -> Result<(), ConfigError> {
    let ok = (value.starts_with("https://") || value.starts_with("http://"))
        && !value.contains(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(invalid(name, value, "expected an http(s) URL such as https://sqs.us-east-1.amazonaws.com/123456789012/queue"))
    }
}

fn shards(lookup: &impl Fn(&str) -> Option<String>) -> Result<Shards, ConfigError> {
    let count = number(
        lookup,
        CHANNEL_SHARDS,
        1..=u64::from(crate::MAX_SHARDS),
        u64::from(DEFAULT_CHANNEL_SHARDS),
    )?;
    // In range: checked just above.
    Ok(u16::try_from(count)
        .ok()
        .and_then(Shards::new)
        .unwrap_or_default())
}

/// `SUBSCRIBER_AUTH`: `true` for `token`, `false` for `none`.
fn token_mode(lookup: &impl Fn(&str) -> Option<String>) -> Result<bool, ConfigError> {
    let value = required(lookup, SUBSCRIBER_AUTH)?;
    match value.to_ascii_lowercase().as_str() {
        "token" => Ok(true),
        "none" => Ok(false),
        _ => Err(invalid(SUBSCRIBER_AUTH, &value, "expected token or none")),
    }
}

/// The token verifier: keys, audience and issuer, all required.
fn verifier(lookup: &impl Fn(&str) -> Option<String>) -> Result<Verifier, ConfigError> {
    let value = required(lookup, TOKEN_PUBLIC_KEYS)?;
    let mut keys: Vec<PublicKey> = Vec::new();
    for (index, entry) in value.split(',').map(str::trim).enumerate() {
        let key = PublicKey::from_spki_base64(entry).map_err(|err| {
            invalid(
                TOKEN_PUBLIC_KEYS,
                &value,
                format!(
                    "entry {} is {err}; expected base64 DER of a P-256 public key",
                    index + 1
                ),
            )
        })?;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let audience = url_like(lookup, TOKEN_AUDIENCE)?;
    let issuer = url_like(lookup, TOKEN_ISSUER)?;
    Ok(Verifier::new(keys, audience, issuer).with_max_lifetime(max_ttl(lookup)?))
}

/// A required value without blanks (a URL, as Terraform sets it).
fn url_like(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    let value = required(lookup, name)?;
    if value.contains(char::is_whitespace) {
        return Err(invalid(name, &value, "expected a URL without blanks"));
    }
    Ok(value)
}

fn endpoint(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    let value = required(lookup, name)?;
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !rest.contains(char::is_whitespace) => {
            Ok(value.trim_end_matches('/').to_owned())
        }
        _ => Err(invalid(name, &value, "expected an http(s) URL such as https://abc123.execute-api.us-east-1.amazonaws.com/staging")),
    }
}

fn number(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<u64, ConfigError> {
    let Some(value) = lookup(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    match value.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(invalid(
            name,
            &value,
            format!(
                "expected a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}
