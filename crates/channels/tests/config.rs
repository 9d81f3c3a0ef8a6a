//! Configuration from the environment: every variable read, defaulted,
//! and refused with a message naming it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use channels::config::*;
use channels::PublishOptions;

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
    channels::token::LocalSigner::generate()
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
    let rx = RxConfig::from_lookup(env(&[("LAMBDA_TABLE", "t-1"), ("SUBSCRIBER_AUTH", "NONE")]))
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
    assert_eq!(config.fanout.table, "ws-connections");
    assert_eq!(
        config.fanout.management_endpoint,
        "https://abc.execute-api.eu-west-1.amazonaws.com/staging"
    );
    assert_eq!(config.fanout.publish, PublishOptions::default());
    assert_eq!(config.fanout.shards.count(), DEFAULT_CHANNEL_SHARDS);
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
        (http.fanout.queue_url, http.fanout.sync_max),
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
        (
            config.fanout.publish.concurrency,
            config.fanout.publish.max_attempts
        ),
        (16, 1)
    );
}
