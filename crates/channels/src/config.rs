//! Configuration from environment variables, read and validated once at init.

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
/// Default of [`PUBLISH_SYNC_MAX`]. See the README's "Where one invocation
/// stops": at the http function's default 256 MB a post costs it about a
/// millisecond of its CPU share, so 2,000 members take ~2 s.
pub const DEFAULT_PUBLISH_SYNC_MAX: u32 = 2_000;
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
/// The `aud` of every token: this deployment's WebSocket stage URL.
pub const TOKEN_AUDIENCE: &str = "TOKEN_AUDIENCE";
/// The `iss` of every token: the HTTP API stage URL that mints them.
pub const TOKEN_ISSUER: &str = "TOKEN_ISSUER";
/// The KMS key (id, ARN or alias) that signs tokens; its public key is the
/// first of `TOKEN_PUBLIC_KEYS` (http only).
pub const TOKEN_SIGNING_KEY: &str = "TOKEN_SIGNING_KEY";
/// Longest token lifetime `POST /tokens` grants, 1–604800 s (default 86400).
pub const TOKEN_MAX_TTL_SECONDS: &str = "TOKEN_MAX_TTL_SECONDS";

/// Tokens of other issuers (OIDC providers such as Cognito or Auth0): a JSON
/// array of `{"issuer","jwks_url","audience",…}`; empty or unset: none.
pub const TOKEN_ISSUERS: &str = "TOKEN_ISSUERS";

/// How long a channel's messages are kept for recovery, 0–86400 s (default
/// 600: a reconnect after API Gateway's 10-minute idle cut); 0 turns
/// history off (offsets are still taken).
pub const HISTORY_TTL_SECONDS: &str = "HISTORY_TTL_SECONDS";
pub const DEFAULT_HISTORY_TTL_SECONDS: u64 = 600;
/// How many of a channel's latest messages a replay may take, 0–100000
/// (default 1,000); 0 turns history off.
pub const HISTORY_MAX: &str = "HISTORY_MAX";
pub const DEFAULT_HISTORY_MAX: u64 = 1_000;

/// Channel patterns (comma-separated, `room-*` style) whose subscribers get
/// join and leave events; empty or unset: none.
pub const PRESENCE_EVENTS: &str = "PRESENCE_EVENTS";

/// Default of [`TOKEN_MAX_TTL_SECONDS`]: one day.
pub const DEFAULT_TOKEN_MAX_TTL_SECS: u64 = 86_400;
/// Upper bound of [`TOKEN_MAX_TTL_SECONDS`]: a week. Tokens cannot be revoked
/// one by one, so their lifetime is what bounds a leaked one.
pub const MAX_TOKEN_MAX_TTL_SECS: u64 = 7 * 86_400;

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

/// Who may listen.
#[derive(Debug, Clone)]
pub enum SubscriberAuth {
    /// Anyone who knows the stage URL may join any channel (the open demo).
    None,
    /// `$connect` needs a token granting the channel.
    Token(Verifier),
}

/// Configuration of the rx Lambda.
#[derive(Debug, Clone)]
pub struct RxConfig {
    pub table: String,
    pub shards: Shards,
    pub auth: SubscriberAuth,
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

/// Configuration of the http Lambda.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub table: String,
    pub shards: Shards,
    pub management_endpoint: String,
    pub publish: PublishOptions,
    /// `None` with `SUBSCRIBER_AUTH=none`: no minting, no JWKS.
    pub tokens: Option<TokenConfig>,
    /// `None` without `PUBLISH_QUEUE_URL`: every publish is synchronous.
    pub queue_url: Option<String>,
    pub sync_max: u32,
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
            auth: match token_mode(&lookup)? {
                false => SubscriberAuth::None,
                true => SubscriberAuth::Token(verifier(&lookup)?),
            },
        })
    }
}

impl HttpConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let publish = publish_options(&lookup)?;
        let table = table(&lookup)?;
        let shards = shards(&lookup)?;
        let management_endpoint = endpoint(&lookup, MANAGEMENT_ENDPOINT)?;
        let tokens = match token_mode(&lookup)? {
            false => None,
            true => {
                let verifier = verifier(&lookup)?;
                let max_ttl_secs = number(
                    &lookup,
                    TOKEN_MAX_TTL_SECONDS,
                    1..=MAX_TOKEN_MAX_TTL_SECS,
                    DEFAULT_TOKEN_MAX_TTL_SECS,
                )?;
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
        let queue_url = lookup(PUBLISH_QUEUE_URL)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        if let Some(url) = &queue_url {
            check_url(PUBLISH_QUEUE_URL, url)?;
        }
        let sync_max = number(
            &lookup,
            PUBLISH_SYNC_MAX,
            1..=1_000_000,
            u64::from(DEFAULT_PUBLISH_SYNC_MAX),
        )?;
        Ok(Self {
            queue_url,
            sync_max: u32::try_from(sync_max).unwrap_or(DEFAULT_PUBLISH_SYNC_MAX),
            table,
            shards,
            management_endpoint,
            tokens,
            publish,
        })
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
    Ok(Verifier::new(keys, audience, issuer))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const GOOD: &[(&str, &str)] = &[
        ("LAMBDA_TABLE", "ws-connections"),
        (
            "MANAGEMENT_ENDPOINT",
            "https://abc.execute-api.eu-west-1.amazonaws.com/staging/",
        ),
        ("SUBSCRIBER_AUTH", "none"),
    ];

    /// A P-256 public key as KMS hands it out (base64 DER).
    fn key() -> String {
        crate::token::LocalSigner::generate()
            .expect("a key")
            .public_key()
            .to_spki_base64()
    }

    fn with_tokens(keys: &str) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = GOOD
            .iter()
            .filter(|(k, _)| *k != "SUBSCRIBER_AUTH")
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        for (k, v) in [
            ("SUBSCRIBER_AUTH", "token"),
            ("TOKEN_PUBLIC_KEYS", keys),
            (
                "TOKEN_AUDIENCE",
                "wss://abc.execute-api.eu-west-1.amazonaws.com/staging",
            ),
            (
                "TOKEN_ISSUER",
                "https://xyz.execute-api.eu-west-1.amazonaws.com/staging",
            ),
            (
                "TOKEN_SIGNING_KEY",
                "arn:aws:kms:eu-west-1:123456789012:key/abc",
            ),
        ] {
            pairs.push((k.to_owned(), v.to_owned()));
        }
        pairs
    }

    fn lookup(pairs: Vec<(String, String)>) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.into_iter().collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn token_mode_reads_keys_audience_issuer_and_signing_key() {
        let (first, second) = (key(), key());
        let config = HttpConfig::from_lookup(lookup(with_tokens(&format!("{first}, {second}"))))
            .expect("valid config");
        let tokens = config.tokens.expect("token mode");
        assert_eq!(tokens.verifier.keys().len(), 2);
        assert_eq!(
            tokens.minter.key.to_spki_base64(),
            first,
            "the first key signs"
        );
        assert_eq!(tokens.minter.max_ttl_secs, 86_400);
        assert_eq!(
            tokens.signing_key,
            "arn:aws:kms:eu-west-1:123456789012:key/abc"
        );
        let rx = RxConfig::from_lookup(lookup(with_tokens(&first))).expect("valid rx config");
        assert!(matches!(rx.auth, SubscriberAuth::Token(ref v) if v.keys().len() == 1));
    }

    #[test]
    fn none_mode_ignores_the_token_variables() {
        let config = HttpConfig::from_lookup(env(GOOD)).expect("valid config");
        assert!(config.tokens.is_none());
        let rx =
            RxConfig::from_lookup(env(&[("LAMBDA_TABLE", "t-1"), ("SUBSCRIBER_AUTH", "NONE")]))
                .expect("valid rx config");
        assert!(matches!(rx.auth, SubscriberAuth::None));
    }

    #[test]
    fn every_bad_token_setting_names_its_variable() {
        let good = key();
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "SUBSCRIBER_AUTH",
                "iam".into(),
                "SUBSCRIBER_AUTH=\"iam\" is invalid: expected token or none",
            ),
            (
                "TOKEN_PUBLIC_KEYS",
                "".into(),
                "environment variable TOKEN_PUBLIC_KEYS is not set",
            ),
            (
                "TOKEN_PUBLIC_KEYS",
                format!("{good},nope!"),
                "entry 2 is not base64",
            ),
            (
                "TOKEN_PUBLIC_KEYS",
                "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=".into(),
                "entry 1 is not a P-256",
            ),
            ("TOKEN_AUDIENCE", "".into(), "TOKEN_AUDIENCE is not set"),
            (
                "TOKEN_ISSUER",
                "a b".into(),
                "TOKEN_ISSUER=\"a b\" is invalid",
            ),
            (
                "TOKEN_SIGNING_KEY",
                "".into(),
                "TOKEN_SIGNING_KEY is not set",
            ),
            (
                "TOKEN_MAX_TTL_SECONDS",
                "0".into(),
                "TOKEN_MAX_TTL_SECONDS=\"0\" is invalid",
            ),
            ("TOKEN_MAX_TTL_SECONDS", "604801".into(), "from 1 to 604800"),
        ];
        for (name, value, expected) in cases {
            let mut pairs = with_tokens(&good);
            pairs.retain(|(k, _)| k != name);
            pairs.push((name.to_owned(), value.clone()));
            let err = HttpConfig::from_lookup(lookup(pairs))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{name}={value}: {err}");
        }
        let err = RxConfig::from_lookup(env(&[("LAMBDA_TABLE", "t-1")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("SUBSCRIBER_AUTH"));
    }

    #[test]
    fn http_config_reads_required_values_and_defaults() {
        let config = HttpConfig::from_lookup(env(GOOD)).expect("valid config");
        assert_eq!(config.table, "ws-connections");
        assert_eq!(
            config.management_endpoint,
            "https://abc.execute-api.eu-west-1.amazonaws.com/staging"
        );
        assert_eq!(config.publish, PublishOptions::default());
        assert_eq!(config.shards.count(), DEFAULT_CHANNEL_SHARDS);
    }

    #[test]
    fn the_worker_reads_its_queue_and_its_share_of_the_rate() {
        let config = WorkerConfig::from_lookup(env(&[
            ("LAMBDA_TABLE", "t-1"),
            (
                "MANAGEMENT_ENDPOINT",
                "https://abc.execute-api.eu-west-1.amazonaws.com/staging",
            ),
            (
                "PUBLISH_QUEUE_URL",
                "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
            ),
            ("PUBLISH_TARGET_RATE", "9000"),
            ("WORKER_MAX_CONCURRENCY", "6"),
            ("CHANNEL_SHARDS", "12"),
        ]))
        .expect("valid worker config");
        assert_eq!(config.rate_per_worker, 1500.0);
        assert_eq!(config.shards.count(), 12);
        let missing = WorkerConfig::from_lookup(env(&[
            ("LAMBDA_TABLE", "t-1"),
            (
                "MANAGEMENT_ENDPOINT",
                "https://abc.execute-api.eu-west-1.amazonaws.com/staging",
            ),
        ]))
        .unwrap_err();
        assert_eq!(missing, ConfigError::Missing("PUBLISH_QUEUE_URL"));
        let http = HttpConfig::from_lookup(env(GOOD)).expect("valid config");
        assert_eq!(
            (http.queue_url, http.sync_max),
            (None, DEFAULT_PUBLISH_SYNC_MAX)
        );
    }

    #[test]
    fn the_go_typo_is_not_accepted() {
        // The Go reference set LAMDBA_TABLE and read LAMBDA_TABLE.
        let err = RxConfig::from_lookup(env(&[("LAMDBA_TABLE", "t-1")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("LAMBDA_TABLE"));
        assert!(err.to_string().contains("LAMBDA_TABLE"));
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        let cases: &[(&str, &str, &str)] = &[
            ("LAMBDA_TABLE", "no spaces allowed", "LAMBDA_TABLE"),
            ("LAMBDA_TABLE", "ab", "LAMBDA_TABLE"),
            (
                "MANAGEMENT_ENDPOINT",
                "abc.execute-api.amazonaws.com",
                "MANAGEMENT_ENDPOINT",
            ),
            ("MANAGEMENT_ENDPOINT", "https://", "MANAGEMENT_ENDPOINT"),
            ("PUBLISH_CONCURRENCY", "0", "PUBLISH_CONCURRENCY"),
            ("PUBLISH_CONCURRENCY", "2000", "PUBLISH_CONCURRENCY"),
            ("PUBLISH_CONCURRENCY", "ten", "PUBLISH_CONCURRENCY"),
            ("PUBLISH_MAX_ATTEMPTS", "11", "PUBLISH_MAX_ATTEMPTS"),
            ("CHANNEL_SHARDS", "0", "CHANNEL_SHARDS"),
            ("CHANNEL_SHARDS", "257", "CHANNEL_SHARDS"),
            ("PUBLISH_QUEUE_URL", "sqs://queue", "PUBLISH_QUEUE_URL"),
            ("PUBLISH_SYNC_MAX", "0", "PUBLISH_SYNC_MAX"),
        ];
        for (name, value, expected) in cases {
            let mut pairs = GOOD.to_vec();
            pairs.retain(|(k, _)| k != name);
            pairs.push((name, value));
            let err = HttpConfig::from_lookup(env(&pairs)).unwrap_err();
            assert!(err.to_string().contains(expected), "{name}={value}: {err}");
        }
    }

    #[test]
    fn missing_endpoint_is_named() {
        let err = HttpConfig::from_lookup(env(&[
            ("LAMBDA_TABLE", "ws-connections"),
            ("SUBSCRIBER_AUTH", "none"),
        ]))
        .unwrap_err();
        assert_eq!(err, ConfigError::Missing("MANAGEMENT_ENDPOINT"));
    }

    #[test]
    fn tuning_values_are_read() {
        let mut pairs = GOOD.to_vec();
        pairs.extend([("PUBLISH_CONCURRENCY", "16"), ("PUBLISH_MAX_ATTEMPTS", "1")]);
        let config = HttpConfig::from_lookup(env(&pairs)).expect("valid config");
        assert_eq!(
            (config.publish.concurrency, config.publish.max_attempts),
            (16, 1)
        );
    }
}
