//! Configuration from environment variables, read and validated once at init.

use crate::PublishOptions;

/// Environment variables the rx binary reads.
pub const RX_ENV: &[&str] = &[LAMBDA_TABLE];
/// Environment variables the http binary reads.
pub const HTTP_ENV: &[&str] = &[
    LAMBDA_TABLE,
    MANAGEMENT_ENDPOINT,
    PUBLISH_CONCURRENCY,
    PUBLISH_MAX_ATTEMPTS,
];

/// DynamoDB table of connections (required).
pub const LAMBDA_TABLE: &str = "LAMBDA_TABLE";
/// The WebSocket API's management endpoint,
/// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` (required by http).
pub const MANAGEMENT_ENDPOINT: &str = "MANAGEMENT_ENDPOINT";
/// Posts in flight during a publish, 1–1024 (default 128).
pub const PUBLISH_CONCURRENCY: &str = "PUBLISH_CONCURRENCY";
/// Tries per connection for throttled or failing posts, 1–10 (default 4).
pub const PUBLISH_MAX_ATTEMPTS: &str = "PUBLISH_MAX_ATTEMPTS";

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxConfig {
    pub table: String,
}

/// Configuration of the http Lambda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub table: String,
    pub management_endpoint: String,
    pub publish: PublishOptions,
}

impl RxConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            table: table(&lookup)?,
        })
    }
}

impl HttpConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = PublishOptions::default();
        let concurrency = number(
            &lookup,
            PUBLISH_CONCURRENCY,
            1..=1024,
            PublishOptions::DEFAULT_CONCURRENCY as u64,
        )?;
        let max_attempts = number(
            &lookup,
            PUBLISH_MAX_ATTEMPTS,
            1..=10,
            u64::from(PublishOptions::DEFAULT_MAX_ATTEMPTS),
        )?;
        Ok(Self {
            table: table(&lookup)?,
            management_endpoint: endpoint(&lookup, MANAGEMENT_ENDPOINT)?,
            publish: PublishOptions {
                // Both fit: the ranges above are small.
                concurrency: usize::try_from(concurrency)
                    .unwrap_or(PublishOptions::DEFAULT_CONCURRENCY),
                max_attempts: u32::try_from(max_attempts)
                    .unwrap_or(PublishOptions::DEFAULT_MAX_ATTEMPTS),
                ..defaults
            },
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
    ];

    #[test]
    fn http_config_reads_required_values_and_defaults() {
        let config = HttpConfig::from_lookup(env(GOOD)).expect("valid config");
        assert_eq!(config.table, "ws-connections");
        assert_eq!(
            config.management_endpoint,
            "https://abc.execute-api.eu-west-1.amazonaws.com/staging"
        );
        assert_eq!(config.publish, PublishOptions::default());
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
        let err = HttpConfig::from_lookup(env(&[("LAMBDA_TABLE", "ws-connections")])).unwrap_err();
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
