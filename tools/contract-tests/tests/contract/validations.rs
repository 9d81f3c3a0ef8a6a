//! The variables' validations, value by value: every validation block of
//! every variable refuses a value it is there to refuse (proven below by
//! evaluating it, with Terraform 1.9-1.11's semantics), the defaults and a
//! set of real-world values pass, and versions.tf pins what the checks use.

use std::collections::BTreeSet;

use channels::token::issuers::{parse_issuers, Audience};
use contract_tests::eval::{to_string, Scope};
use contract_tests::terraform::{attr, blocks};

use crate::*;

/// A value (HCL) of `var` that must be refused, with other variables set
/// first, and a piece of the error message that must say why.
struct Bad {
    var: &'static str,
    value: &'static str,
    with: &'static [(&'static str, &'static str)],
    expect: &'static str,
}

const fn bad(var: &'static str, value: &'static str, expect: &'static str) -> Bad {
    Bad {
        var,
        value,
        with: &[],
        expect,
    }
}

const fn bad_with(
    var: &'static str,
    value: &'static str,
    with: &'static [(&'static str, &'static str)],
    expect: &'static str,
) -> Bad {
    Bad {
        var,
        value,
        with,
        expect,
    }
}

/// A `token_issuers` value of one entry: issuer, jwks_url and `$rest`.
macro_rules! one_issuer {
    ($rest:literal) => {
        concat!(
            "[{ issuer = \"https://login.example.com/\", jwks_url = \"https://login.example.com/k\", ",
            $rest,
            " }]"
        )
    };
}

const CERT_EU: &str =
    "\"arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555\"";

const BAD: &[Bad] = &[
    bad("region", "\"us_east_1\"", "AWS Region code"),
    bad("name", "\"-Bad\"", "2-32 characters"),
    bad("stage_name", "\"$default\"", "1-64 characters"),
    bad("websocket_domain", "\"https://ws.example.com\"", "websocket_domain must be a DNS name"),
    bad("websocket_domain", "\"ws.example.com\"", "websocket_domain needs a certificate"),
    bad("http_domain", "\"API.example.com\"", "http_domain must be a DNS name"),
    bad_with("http_domain", "\"ws.example.com\"", &[("websocket_domain", "\"ws.example.com\""), ("route53_zone_id", "\"Z0123456789\"")], "must differ"),
    bad("http_domain", "\"api.example.com\"", "http_domain needs a certificate"),
    bad("websocket_certificate_arn", "\"arn:aws:acm:us-east-1:123:certificate/x\"", "websocket_certificate_arn must be an ACM certificate ARN"),
    bad_with("websocket_certificate_arn", CERT_EU, &[("websocket_domain", "\"ws.example.com\"")], "websocket_certificate_arn must be in the deployment's region"),
    bad("http_certificate_arn", "\"certificate/abc\"", "http_certificate_arn must be an ACM certificate ARN"),
    bad_with("http_certificate_arn", CERT_EU, &[("http_domain", "\"api.example.com\"")], "http_certificate_arn must be in the deployment's region"),
    bad("route53_zone_id", "\"example.com\"", "hosted zone id"),
    bad("package_dir", "\"  \"", "non-empty path"),
    bad("architecture", "\"arm\"", "arm64 or x86_64"),
    bad("rx_memory_size", "64", "rx_memory_size must be"),
    bad("http_memory_size", "256.5", "http_memory_size must be"),
    bad("rx_timeout", "30", "rx_timeout must be"),
    bad("http_timeout", "31", "http_timeout must be"),
    bad("rx_reserved_concurrency", "-2", "rx_reserved_concurrency must be"),
    bad("http_reserved_concurrency", "1.5", "http_reserved_concurrency must be"),
    bad("worker_reserved_concurrency", "1", "worker_reserved_concurrency must be"),
    bad("channel_shards", "257", "channel_shards must be"),
    bad("publish_concurrency", "0", "publish_concurrency must be"),
    bad("publish_max_attempts", "11", "publish_max_attempts must be"),
    bad("publish_sync_max", "0", "publish_sync_max must be"),
    bad("publish_target_rate", "0.5", "publish_target_rate must be"),
    bad("worker_max_concurrency", "1", "worker_max_concurrency must be"),
    bad("worker_batch_size", "11", "worker_batch_size must be"),
    bad("worker_memory_size", "127", "worker_memory_size must be"),
    bad("worker_timeout", "29", "worker_timeout must be"),
    bad("commands_memory_size", "10241", "commands_memory_size must be"),
    bad("commands_timeout", "30", "commands_timeout must be"),
    bad("commands_reserved_concurrency", "-2", "commands_reserved_concurrency must be"),
    bad("presence_memory_size", "0", "presence_memory_size must be"),
    bad("presence_timeout", "901", "presence_timeout must be"),
    bad("presence_reserved_concurrency", "0.5", "presence_reserved_concurrency must be"),
    bad("presence_events", "[\"room*x\"]", "presence_events must hold channel names"),
    // A prefix and its * fit in a channel name's 128 characters: Pattern::parse refuses more.
    bad("presence_events", "[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa*\"]", "presence_events must hold channel names"),
    bad("presence_events", "[\"lobby\", \"lobby\"]", "at most 20 patterns, each once"),
    bad("presence_events", "[for i in range(21) : \"c${i}\"]", "at most 20 patterns"),
    bad("presence_batch_size", "0", "presence_batch_size must be"),
    bad("presence_batching_window_seconds", "301", "presence_batching_window_seconds must be"),
    bad("presence_max_retry_attempts", "-1", "presence_max_retry_attempts must be"),
    bad("presence_max_record_age_seconds", "-1", "presence_max_record_age_seconds must be"),
    bad("history_ttl_seconds", "86401", "history_ttl_seconds must be"),
    bad("history_max", "-1", "history_max must be"),
    bad("token_issuers", "[for i in range(6) : { issuer = \"https://i${i}.example.com/\", jwks_url = \"https://i${i}.example.com/k\", audience = \"a\" }]", "at most 5 issuers"),
    bad("token_issuers", "[{ issuer = \"http://login.example.com/\", jwks_url = \"https://login.example.com/k\", audience = \"a\" }]", "Each issuer of token_issuers must be an https URL"),
    bad("token_issuers", "[{ issuer = \"https://login.example.com/\", jwks_url = \"http://login.example.com/k\", audience = \"a\" }]", "Each jwks_url of token_issuers"),
    bad("token_issuers", one_issuer!("channels = [\"x\"]"), "needs an audience"),
    bad("token_issuers", one_issuer!("audience = \"a\", client_id = \"c\", channels = [\"x\"]"), "not both"),
    bad("token_issuers", one_issuer!("client_id = \"c\", token_use = \"refresh\", channels = [\"x\"]"), "token_use of token_issuers"),
    bad("token_issuers", one_issuer!("audience = \"a\", channels = [\"a b\"]"), "channel patterns"),
    bad("token_issuers", one_issuer!("audience = \"a\", channels = [\"user:{user}:*\"]"), "the only placeholder"),
    bad("token_issuers", one_issuer!("audience = \"a\", publish = [\"user:{sub\"]"), "the only placeholder"),
    bad("token_issuers", one_issuer!("audience = \"a\", channels = [\"room-*\", \"a*b\"]"), "the only placeholder"),
    bad("token_issuers", one_issuer!("audience = \"a\", channels = [\"\"]"), "the only placeholder"),
    bad("token_issuers", one_issuer!("audience = \"a\", channels = [\"${join(\"\", [for i in range(129) : \"a\"])}\"]"), "1 to 128 characters"),
    bad("token_issuers", one_issuer!("audience = \"a\", publish = [for i in range(101) : \"*\"]"), "at most 100 channel patterns"),
    bad("token_issuers", one_issuer!("audience = \"a\""), "must grant something"),
    bad("token_issuers", one_issuer!("audience = \"a\", channels = [], publish = []"), "must grant something"),
    bad("token_issuers", one_issuer!("audience = \"\", channels = [\"x\"]"), "1 to 512 bytes without control characters"),
    bad("token_issuers", one_issuer!("audience = \"a\", channels_claim = \"a\\tb\""), "1 to 512 bytes without control characters"),
    bad("token_issuers", one_issuer!("client_id = \"${join(\"\", [for i in range(257) : \"\u{e9}\"])}\", channels = [\"x\"]"), "1 to 512 bytes"),
    bad("token_issuers", one_issuer!("audience = \"a\", channels = [\"x\"], jwks_timeout_ms = 99"), "jwks_timeout_ms from 100 to 10000"),
    bad("token_issuers", one_issuer!("audience = \"a\", channels = [\"x\"], jwks_min_refresh_seconds = 1.5"), "jwks_min_refresh_seconds must be a whole number"),
    bad("token_issuers", one_issuer!("audience = \"a\", channels = [\"x\"], jwks_max_age_seconds = 86401"), "jwks_max_age_seconds from 60 to 86400"),
    bad("token_issuers", one_issuer!("audience = \"a\", channels = [\"x\"], jwks_min_refresh_seconds = 3600, jwks_max_age_seconds = 600"), "must be at least jwks_min_refresh_seconds"),
    bad("token_issuers", "[{ issuer = \"https://login.example.com/\", jwks_url = \"https://login.example.com/k\", audience = \"a\", channels = [\"x\"] }, { issuer = \"https://login.example.com/\", jwks_url = \"https://login.example.com/k\", audience = \"a\", publish = [\"y\"] }]", "at most once with the same audience, client_id and token_use"),
    bad("token_issuers", "[{ issuer = \"https://login.example.com/\", jwks_url = \"https://login.example.com/k\", audience = \"a\", channels = [\"x\"] }, { issuer = \"https://login.example.com/\", jwks_url = \"https://login.example.com/k2\", audience = \"b\", channels = [\"y\"] }]", "the same jwks_url in each entry"),
    bad("token_issuers", "[{ issuer = \"https://login.example.com/\u{a0}\", jwks_url = \"https://login.example.com/k\", audience = \"a\", channels = [\"x\"] }]", "printable ASCII"),
    bad("publish_authorization", "\"OPEN\"", "publish_authorization must be AWS_IAM or NONE"),
    bad_with("publish_authorization", "\"NONE\"", &[("token_authorization", "null")], "would open POST /tokens"),
    bad("token_authorization", "\"IAM\"", "token_authorization must be AWS_IAM, NONE or null"),
    bad("token_authorization", "\"NONE\"", "lets anyone mint"),
    bad("cors_allowed_origins", "[\"*\"]", "must be an origin"),
    bad("cors_allowed_origins", "[\"https://app.example.com/path\"]", "must be an origin"),
    bad("cors_allowed_origins", "[for i in range(21) : \"https://a${i}.example.com\"]", "at most 20 origins"),
    bad("subscriber_auth", "\"jwt\"", "subscriber_auth must be token or none"),
    bad("token_max_ttl_seconds", "604801", "token_max_ttl_seconds must be"),
    bad("token_previous_public_keys", "[\"MFkwEwYH\"]", "P-256 public keys"),
    bad("token_previous_public_keys", "[for i in range(11) : \"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa==\"]", "at most 10 keys"),
    bad("websocket_throttling_rate_limit", "0", "websocket_throttling_rate_limit must be"),
    bad("websocket_throttling_burst_limit", "5001", "websocket_throttling_burst_limit must be"),
    bad("http_throttling_rate_limit", "10001", "http_throttling_rate_limit must be"),
    bad("http_throttling_burst_limit", "0", "http_throttling_burst_limit must be"),
    bad("log_retention_days", "2", "log_retention_days must be one of"),
    bad("log_level", "\"WARN\"", "Lambda drops the publish metrics"),
    bad("log_level", "\"FATAL\"", "EMF lines carry no level"),
    bad("system_log_level", "\"ERROR\"", "system_log_level must be"),
    bad("tracing_mode", "\"Off\"", "tracing_mode must be"),
    bad("kms_deletion_window_days", "6", "kms_deletion_window_days must be"),
    bad("tags", "{ \"aws:team\" = \"x\" }", "tags holds at most 40 tags"),
];

/// Other variables set first: (name, value as HCL).
type Settings = &'static [(&'static str, &'static str)];

/// Values that must pass (with other variables set first): real-world
/// settings the validations must not refuse.
const GOOD: &[(&str, &str, Settings)] = &[
    ("websocket_domain", "\"ws.example.com\"", &[("route53_zone_id", "\"Z0123456789\"")]),
    ("http_domain", "\"api.example.com\"", &[("websocket_domain", "\"ws.example.com\""), ("route53_zone_id", "\"Z0123456789\"")]),
    ("http_certificate_arn", "\"arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555\"", &[("http_domain", "\"api.example.com\"")]),
    ("websocket_certificate_arn", "\"arn:aws-cn:acm:cn-north-1:123456789012:certificate/11111111-2222-3333-4444-555555555555\"", &[("region", "\"cn-north-1\""), ("websocket_domain", "\"ws.example.cn\"")]),
    ("token_issuers", "[{ issuer = \"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc\", jwks_url = \"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc/.well-known/jwks.json\", client_id = \"abc\", token_use = \"access\", channels = [\"user:{sub}:*\"] }]", &[]),
    ("token_issuers", "[{ issuer = \"https://login.example.com/\", jwks_url = \"http://127.0.0.1:8080/jwks.json\", audience = \"channels\", channels_claim = \"ch\", publish = [\"room-*\"] }]", &[]),
    // docs/identity-providers.md: a Cognito pool's ID and access tokens (the same
    // issuer twice), an Auth0 tenant, and the JWKS settings.
    ("token_issuers", COGNITO_BOTH, &[]),
    ("token_issuers", AUTH0, &[]),
    // Each limit at its edge: what Terraform lets through, the functions must take.
    ("token_issuers", "[{ issuer = \"https://login.example.com/\", jwks_url = \"https://login.example.com/k\", audience = \"${join(\"\", [for i in range(256) : \"\u{e9}\"])}\", channels = [\"${join(\"\", [for i in range(127) : \"a\"])}*\", \"{sub}\", \"a-{sub}.{sub}_b\", \"*\"], publish = [for i in range(100) : \"c${i}\"], jwks_min_refresh_seconds = 1, jwks_timeout_ms = 100, jwks_max_age_seconds = 60 }]", &[]),
    ("token_issuers", "[for use in [\"id\", \"access\", null] : { issuer = \"https://login.example.com/\", jwks_url = \"http://[::1]:9000/jwks\", client_id = \"c\", token_use = use, publish_claim = \"p\", jwks_min_refresh_seconds = 3600, jwks_timeout_ms = 10000, jwks_max_age_seconds = 86400 }]", &[]),
    ("token_issuers", "[{ issuer = \"https://login.example.com/\", jwks_url = \"https://login.example.com/k\", audience = \"same\", channels = [\"x\"] }, { issuer = \"https://login.example.com/\", jwks_url = \"https://login.example.com/k\", client_id = \"same\", channels = [\"x\"] }]", &[]),
    ("presence_events", "[\"room-*\", \"lobby\", \"user:42:*\", \"*\"]", &[]),
    ("presence_events", "[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa*\", \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"]", &[]),
    ("cors_allowed_origins", "[\"https://app.example.com\", \"https://app.example.com:8443\", \"http://localhost:5173\"]", &[]),
    ("publish_authorization", "\"NONE\"", &[]),
    ("publish_authorization", "\"NONE\"", &[("subscriber_auth", "\"none\""), ("token_authorization", "null")]),
    ("token_authorization", "\"NONE\"", &[("subscriber_auth", "\"none\"")]),
    ("token_authorization", "null", &[]),
    ("log_level", "\"DEBUG\"", &[]),
    ("tags", "{ team = \"channels\" }", &[]),
];

/// The Cognito example of docs/identity-providers.md: ID tokens and access
/// tokens of one pool, with the JWKS settings on the second.
const COGNITO_BOTH: &str = "[
  { issuer = \"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123\", jwks_url = \"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/jwks.json\", audience = \"7example23456789abcdefghij\", token_use = \"id\", channels_claim = \"cognito:groups\", channels = [\"user:{sub}:*\"] },
  { issuer = \"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123\", jwks_url = \"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/jwks.json\", client_id = \"7example23456789abcdefghij\", token_use = \"access\", channels_claim = \"cognito:groups\", channels = [\"user:{sub}:*\"], publish = [\"user:{sub}:*\"], jwks_min_refresh_seconds = 60, jwks_timeout_ms = 1500, jwks_max_age_seconds = 900 },
]";

/// The Auth0 example of docs/identity-providers.md.
const AUTH0: &str = "[{ issuer = \"https://example.eu.auth0.com/\", jwks_url = \"https://example.eu.auth0.com/.well-known/jwks.json\", audience = \"https://channels.example.com\", channels_claim = \"https://channels.example.com/channels\", publish_claim = \"https://channels.example.com/publish\" }]";

/// The validations of `token_issuers` the functions' own check of
/// TOKEN_ISSUERS has no counterpart for: Terraform is stricter there.
const TERRAFORM_ONLY: &[&str] = &[
    "at most 5 issuers",
    "Each issuer of token_issuers must be an https URL",
    "token_use of token_issuers",
];

fn set(scope: &mut Scope<'_>, var: &str, text: &str) {
    let value = scope
        .eval_text(text)
        .unwrap_or_else(|e| panic!("{var} = {text}: {e}"));
    scope
        .set(var, value)
        .unwrap_or_else(|e| panic!("{var} = {text} does not convert to its type: {e}"));
}

#[test]
fn every_variable_is_typed_described_defaulted_and_validated() {
    let (tf, _) = parsed(&sources());
    report("variables", &variable_problems(&tf));
}

#[test]
fn versions_tf_pins_what_the_schema_check_uses() {
    let (tf, make) = parsed(&sources());
    report("versions", &version_problems(&tf, &make));
}

#[test]
fn each_validation_refuses_a_bad_value() {
    let (tf, _) = parsed(&sources());
    let mut wrong = Vec::new();
    let mut hit: BTreeSet<(String, String)> = BTreeSet::new();
    for case in BAD {
        let mut scope = Scope::new(&tf).unwrap_or_else(|e| panic!("{e}"));
        for (var, value) in case.with {
            set(&mut scope, var, value);
        }
        set(&mut scope, case.var, case.value);
        let refused = scope.refusals(case.var).unwrap_or_else(|e| panic!("{e}"));
        if !refused.iter().any(|r| r.contains(case.expect)) {
            wrong.push(format!(
                "{} = {} (with {:?}) is not refused with {:?}: {refused:?}",
                case.var, case.value, case.with, case.expect
            ));
        }
        hit.extend(refused.into_iter().map(|r| (case.var.to_owned(), r)));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Every validation block was shown refusing something.
    let defaults = Scope::new(&tf).unwrap_or_else(|e| panic!("{e}"));
    let mut unproven = Vec::new();
    for (_, block) in tf
        .top_blocks()
        .filter(|(_, b)| b.identifier() == "variable")
    {
        let name = block.labels()[0].as_str();
        for validation in blocks(block.body(), "validation") {
            let message = attr(validation, "error_message")
                .and_then(|m| defaults.eval(m).ok())
                .and_then(|m| to_string(&m).ok())
                .unwrap_or_default();
            if !hit
                .iter()
                .any(|(var, refusal)| var == name && refusal.contains(&message))
            {
                unproven.push(format!("variable {name:?}: no case shows this validation refusing a value: {message:?}"));
            }
        }
    }
    assert!(
        unproven.is_empty(),
        "add a case to BAD for:\n{}",
        unproven.join("\n")
    );
}

#[test]
fn real_world_values_pass() {
    let (tf, _) = parsed(&sources());
    let mut wrong = Vec::new();
    for (var, value, with) in GOOD {
        let mut scope = Scope::new(&tf).unwrap_or_else(|e| panic!("{e}"));
        for (other, v) in *with {
            set(&mut scope, other, v);
        }
        set(&mut scope, var, value);
        let mut refused = Vec::new();
        for name in std::iter::once(*var).chain(with.iter().map(|(n, _)| *n)) {
            refused.extend(scope.refusals(name).unwrap_or_else(|e| panic!("{e}")));
        }
        if !refused.is_empty() {
            wrong.push(format!(
                "{var} = {value} (with {with:?}) is refused: {refused:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn presence_events_accepts_what_pattern_parse_accepts() {
    // The functions parse PRESENCE_EVENTS with channels::Pattern::parse: a
    // value Terraform lets through must not stop them at start, and the
    // other way round.
    let (tf, _) = parsed(&sources());
    let prefix = |n: usize| format!("{}*", "p".repeat(n));
    let samples = [
        "*".to_owned(),
        "lobby".to_owned(),
        "room-*".to_owned(),
        "user:42:*".to_owned(),
        "a".repeat(128),
        "a".repeat(129),
        prefix(126),
        prefix(127),
        prefix(128),
        String::new(),
        "room*x".to_owned(),
        "**".to_owned(),
        "a b".to_owned(),
        "caf\u{e9}".to_owned(),
    ];
    let mut wrong = Vec::new();
    for sample in samples {
        let mut scope = Scope::new(&tf).unwrap_or_else(|e| panic!("{e}"));
        set(&mut scope, "presence_events", &format!("[{sample:?}]"));
        let refused = scope
            .refusals("presence_events")
            .unwrap_or_else(|e| panic!("{e}"));
        let parsed = channels::Pattern::parse(&sample);
        if refused.is_empty() != parsed.is_ok() {
            wrong.push(format!(
                "{sample:?}: Terraform refuses it: {refused:?}; Pattern::parse: {parsed:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_checks_catch_a_missing_validation_and_a_drifting_pin() {
    assert_caught(
        "variables",
        |tf, _| variable_problems(tf),
        &[
            m(
                "terraform/variables.tf:variable.history_max",
                "  validation {\n    condition     = var.history_max >= 0 && var.history_max <= 100000 && floor(var.history_max) == var.history_max\n    error_message = \"history_max must be a whole number between 0 (history off) and 100000.\"\n  }\n",
                "",
                &["variable \"history_max\" (terraform/variables.tf) has no validation block"],
            ),
            m("terraform/variables.tf:variable.history_max", "  default     = 1000\n", "  default     = 1000000\n", &[
                "variable \"history_max\" (terraform/variables.tf): its default is refused",
            ]),
            m("terraform/variables.tf:variable.tags", "  nullable    = false\n", "", &["variable \"tags\" (terraform/variables.tf) is a map without `nullable = false`"]),
            m("terraform/variables.tf:variable.token_authorization", "  default     = \"AWS_IAM\"\n", "", &["variable \"token_authorization\" (terraform/variables.tf) has no default"]),
        ],
    );
    assert_caught(
        "versions",
        version_problems,
        &[
            m(
                "terraform/versions.tf",
                "      version = \"6.62.0\"\n",
                "      version = \"~> 6.0\"\n",
                &[
                    "hashicorp/aws version is Some(\"~> 6.0\")",
                    "TF_AWS_PROVIDER",
                ],
            ),
            m(
                "terraform.mk",
                "TF_AWS_PROVIDER   := 6.62.0\n",
                "TF_AWS_PROVIDER   := 6.63.0\n",
                &["checks against hashicorp/aws Some(\"6.63.0\")"],
            ),
            m(
                "terraform/versions.tf",
                "  required_version = \">= 1.9\"\n",
                "  required_version = \">= 1.6\"\n",
                &["required_version is Some(\">= 1.6\")", "1.9"],
            ),
        ],
    );
}

/// TOKEN_ISSUERS as Terraform renders it (local.token_issuers, which
/// lambda.tf gives rx and commands) for `token_issuers = text`.
fn rendered_issuers(tf: &contract_tests::Terraform, text: &str) -> String {
    let mut scope = Scope::new(tf).unwrap_or_else(|e| panic!("{e}"));
    set(&mut scope, "token_issuers", text);
    let rendered = scope
        .local("token_issuers")
        .unwrap_or_else(|e| panic!("token_issuers = {text}: {e}"));
    to_string(&rendered).unwrap_or_else(|e| panic!("token_issuers = {text}: {e}"))
}

#[test]
fn token_issuers_terraform_accepts_are_accepted_by_the_functions() {
    let (tf, _) = parsed(&sources());
    let mut checked = 0;
    for (var, text, _) in GOOD.iter().filter(|(var, _, _)| *var == "token_issuers") {
        let json = rendered_issuers(&tf, text);
        let configs = parse_issuers(&json).unwrap_or_else(|e| {
            panic!("{var} = {text} passes the validations, but the functions refuse TOKEN_ISSUERS = {json}: {e}")
        });
        let entries = serde_json::from_str::<serde_json::Value>(&json)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len));
        assert_eq!(Some(configs.len()), entries, "{json}");
        checked += 1;
    }
    assert!(checked >= 5, "GOOD holds the token_issuers examples");

    // The JWKS settings reach the functions (null ones left out: the defaults).
    let cognito = parse_issuers(&rendered_issuers(&tf, COGNITO_BOTH)).unwrap();
    let refresh = |i: usize| {
        let r = &cognito[i].refresh;
        (
            r.min_interval.as_secs(),
            r.timeout.as_millis(),
            r.max_age.as_secs(),
        )
    };
    assert_eq!(refresh(0), (30, 2000, 3600));
    assert_eq!(refresh(1), (60, 1500, 900));
    assert_eq!(
        cognito[0].audience,
        Audience::Aud("7example23456789abcdefghij".into())
    );
    assert_eq!(
        cognito[1].audience,
        Audience::ClientId("7example23456789abcdefghij".into())
    );
    assert_eq!(cognito[1].publish, ["user:{sub}:*"]);
}

#[test]
fn token_issuers_the_validations_refuse_the_functions_refuse_too() {
    // Each validation of token_issuers mirrors a refusal of the functions'
    // parse_issuers (but those in TERRAFORM_ONLY, where Terraform is stricter).
    let (tf, _) = parsed(&sources());
    let mut wrong = Vec::new();
    for case in BAD.iter().filter(|b| b.var == "token_issuers") {
        if TERRAFORM_ONLY.iter().any(|only| case.expect.contains(only)) {
            continue;
        }
        let json = rendered_issuers(&tf, case.value);
        if let Ok(configs) = parse_issuers(&json) {
            wrong.push(format!(
                "token_issuers = {} is refused with {:?}, but the functions accept {json} ({} entries)",
                case.value,
                case.expect,
                configs.len()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
