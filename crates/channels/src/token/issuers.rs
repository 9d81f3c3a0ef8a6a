//! Tokens of other issuers: the identity providers a deployment lists in
//! `TOKEN_ISSUERS` (Cognito user pools, Auth0 tenants, any OIDC provider
//! that publishes a JWKS and signs RS256 or ES256).
//!
//! - [`parse_issuers`] reads `TOKEN_ISSUERS`, a JSON array of
//!   [`IssuerConfig`]s, and names the entry and field of every mistake.
//! - [`Issuers::verify`] checks a token against the issuer its `iss` names
//!   and answers the [`IssuerGrants`] it carries: the channel patterns its
//!   holder may subscribe to and publish to, from a claim, from templates
//!   such as `user:{sub}:*`, or both.
//!
//! # What is checked, in order
//!
//! 1. Form: three base64url parts, at most [`MAX_ISSUER_TOKEN_BYTES`];
//!    header `alg` `RS256` or `ES256` (`none`, `HS*`, `PS*` and the rest
//!    are refused before any key is looked up), a `kid`, no `crit`.
//! 2. The issuer: the (unverified) `iss` picks one of the configured
//!    issuers, whose keys alone are searched, by `kid`.
//! 3. The key's algorithm is the header's: an RSA key never checks an
//!    ES256 signature and an EC key never an RS256 one.
//! 4. The signature. Only then are the claims read:
//! 5. `exp` (required), `nbf`, `iat` (required, not in the future) with
//!    [`LEEWAY_SECS`], and `exp - iat` at most the deployment's maximum
//!    lifetime;
//! 6. `iss` exactly the configured issuer;
//! 7. `aud` contains the configured audience, or — Cognito access tokens
//!    carry no `aud` — `client_id` equals the configured one; and
//!    `token_use` equals the configured one when one is set.
//!
//! Errors ([`IssuerError`]) map to 401, or 503 when the issuer's keys could
//! not be fetched; their messages name a category, never the token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::time::Duration;

use super::jwk::Algorithm;
use super::jwks::{IssuerKeys, JwksFetcher, Lookup, RefreshPolicy};
use super::loopback::{loopback_host, split_host_port};

/// Clock skew allowed on `exp`, `nbf` and `iat`: the same as for our own
/// tokens.
pub const LEEWAY_SECS: i64 = 60;
/// Longest issuer token accepted. Cognito ID tokens with many groups and
/// attributes reach 2–4 KB; 16 KiB leaves room and bounds the work.
pub const MAX_ISSUER_TOKEN_BYTES: usize = 16 * 1024;
/// Most entries `TOKEN_ISSUERS` may hold.
pub const MAX_ISSUERS: usize = 32;
/// Most channel patterns one token may grant, per list (subscribe,
/// publish). A token over it is refused rather than cut.
pub const MAX_GRANTS: usize = 100;
/// Longest `sub` accepted, in bytes.
pub const MAX_SUBJECT_BYTES: usize = 256;
/// Longest template, issuer, audience or claim name in `TOKEN_ISSUERS`.
const MAX_SETTING_BYTES: usize = 512;
/// Longest channel pattern a template may produce before `{sub}`.
const MAX_TEMPLATE_BYTES: usize = 128;

/// The fields an entry of `TOKEN_ISSUERS` may have.
pub const ISSUER_FIELDS: &[&str] = &[
    "issuer",
    "jwks_url",
    "audience",
    "client_id",
    "token_use",
    "channels_claim",
    "channels",
    "publish_claim",
    "publish",
    "jwks_min_refresh_seconds",
    "jwks_timeout_ms",
    "jwks_max_age_seconds",
];

/// Who is required in the token's audience.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// `aud` (a string or an array) contains this value.
    Aud(String),
    /// The `client_id` claim equals this value (Cognito access tokens).
    ClientId(String),
}

/// One entry of `TOKEN_ISSUERS`.
///
/// ```json
/// {"issuer":"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC",
///  "jwks_url":"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC/.well-known/jwks.json",
///  "client_id":"1example23456789","token_use":"access",
///  "channels_claim":"cognito:groups","channels":["user:{sub}:*"],"publish":["user:{sub}:*"]}
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerConfig {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// `https://…`, or `http://` on 127.0.0.1, localhost or `[::1]`.
    pub jwks_url: String,
    pub audience: Audience,
    /// The `token_use` claim required (Cognito: `id` or `access`), if any.
    pub token_use: Option<String>,
    /// A claim holding channel patterns to subscribe to: an array of
    /// strings, or a string of patterns separated by white space.
    pub channels_claim: Option<String>,
    /// Channel pattern templates to subscribe to; `{sub}` is the token's
    /// `sub`.
    pub channels: Vec<String>,
    /// Like `channels_claim`, for publishing.
    pub publish_claim: Option<String>,
    /// Like `channels`, for publishing.
    pub publish: Vec<String>,
    /// How the issuer's JWKS is fetched and cached.
    pub refresh: RefreshPolicy,
}

/// A mistake in `TOKEN_ISSUERS`. The message names the entry (by index and
/// issuer) and the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IssuersError {
    #[error("not a JSON array of issuer objects: {0}")]
    Json(String),
    #[error("more than {MAX_ISSUERS} issuers")]
    TooMany,
    #[error("entry {index}{}: {}{reason}", issuer_label(.issuer), field_label(.field))]
    Entry {
        index: usize,
        issuer: Option<String>,
        field: Option<String>,
        reason: String,
    },
}

fn issuer_label(issuer: &Option<String>) -> String {
    issuer
        .as_deref()
        .map(|i| format!(" ({i:?})"))
        .unwrap_or_default()
}

fn field_label(field: &Option<String>) -> String {
    field
        .as_deref()
        .map(|f| format!("{f}: "))
        .unwrap_or_default()
}

/// Reads `TOKEN_ISSUERS`: empty (or only white space) means none.
pub fn parse_issuers(text: &str) -> Result<Vec<IssuerConfig>, IssuersError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_str(text).map_err(|e| IssuersError::Json(e.to_string()))?;
    let Value::Array(entries) = value else {
        return Err(IssuersError::Json(
            "expected [{\"issuer\":…,\"jwks_url\":…,\"audience\":…}]".into(),
        ));
    };
    if entries.len() > MAX_ISSUERS {
        return Err(IssuersError::TooMany);
    }
    let mut configs: Vec<IssuerConfig> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let config = parse_entry(index, entry)?;
        let err = |field: &str, reason: String| IssuersError::Entry {
            index,
            issuer: Some(short(&config.issuer)),
            field: Some(field.to_owned()),
            reason,
        };
        for (other_index, other) in configs.iter().enumerate() {
            if other.issuer != config.issuer {
                continue;
            }
            if other.jwks_url != config.jwks_url {
                return Err(err(
                    "jwks_url",
                    format!("entry {other_index} names the same issuer with another jwks_url"),
                ));
            }
            if other.audience == config.audience && other.token_use == config.token_use {
                return Err(err(
                    "audience",
                    format!("entry {other_index} has the same issuer, audience and token_use"),
                ));
            }
        }
        configs.push(config);
    }
    Ok(configs)
}

fn short(text: &str) -> String {
    if text.len() <= 100 {
        text.to_owned()
    } else {
        let mut end = 100;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &text[..end])
    }
}

fn parse_entry(index: usize, entry: &Value) -> Result<IssuerConfig, IssuersError> {
    let Value::Object(map) = entry else {
        return Err(IssuersError::Entry {
            index,
            issuer: None,
            field: None,
            reason: "not a JSON object".into(),
        });
    };
    let issuer_label = map.get("issuer").and_then(Value::as_str).map(short);
    let err = |field: &str, reason: &str| IssuersError::Entry {
        index,
        issuer: issuer_label.clone(),
        field: Some(short(field)),
        reason: reason.to_owned(),
    };
    if let Some(unknown) = map.keys().find(|k| !ISSUER_FIELDS.contains(&k.as_str())) {
        return Err(err(
            unknown,
            &format!("unknown field; the fields are {}", ISSUER_FIELDS.join(", ")),
        ));
    }
    let text = |field: &'static str| -> Result<Option<String>, IssuersError> {
        match map.get(field) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Err(err(field, "is empty")),
            Some(Value::String(s)) if s.len() > MAX_SETTING_BYTES => {
                Err(err(field, "is longer than 512 bytes"))
            }
            Some(Value::String(s)) if s.chars().any(char::is_control) => {
                Err(err(field, "holds control characters"))
            }
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(err(field, "must be a string")),
        }
    };
    let issuer = text("issuer")?.ok_or_else(|| err("issuer", "is required"))?;
    if issuer.chars().any(char::is_whitespace) {
        return Err(err("issuer", "holds white space"));
    }
    let jwks_url = text("jwks_url")?.ok_or_else(|| err("jwks_url", "is required"))?;
    check_jwks_url(&jwks_url).map_err(|reason| err("jwks_url", reason))?;
    let audience = match (text("audience")?, text("client_id")?) {
        (Some(aud), None) => Audience::Aud(aud),
        (None, Some(client_id)) => Audience::ClientId(client_id),
        (None, None) => {
            return Err(err(
                "audience",
                "one of audience or client_id is required (client_id for Cognito access tokens, which carry no aud)",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(err(
                "client_id",
                "give audience or client_id, not both; list the issuer twice to accept both kinds of token",
            ))
        }
    };
    let token_use = text("token_use")?;
    let claim = |field: &'static str| text(field);
    let channels_claim = claim("channels_claim")?;
    let publish_claim = claim("publish_claim")?;
    let templates = |field: &'static str| -> Result<Vec<String>, IssuersError> {
        let list = match map.get(field) {
            None => return Ok(Vec::new()),
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(many)) => many
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| err(field, "must be a string or an array of strings"))?,
            Some(_) => return Err(err(field, "must be a string or an array of strings")),
        };
        if list.len() > MAX_GRANTS {
            return Err(err(field, "names more than 100 templates"));
        }
        for (i, template) in list.iter().enumerate() {
            check_template(template).map_err(|reason| {
                err(&format!("{field}[{i}]"), &format!("{template:?} {reason}"))
            })?;
        }
        Ok(list)
    };
    let channels = templates("channels")?;
    let publish = templates("publish")?;
    if channels_claim.is_none()
        && channels.is_empty()
        && publish_claim.is_none()
        && publish.is_empty()
    {
        return Err(err(
            "channels",
            "the issuer grants nothing: give channels_claim, channels, publish_claim or publish",
        ));
    }
    let seconds =
        |field: &'static str, range: std::ops::RangeInclusive<u64>, default: u64| match map
            .get(field)
        {
            None => Ok(default),
            Some(v) => v.as_u64().filter(|n| range.contains(n)).ok_or_else(|| {
                err(
                    field,
                    &format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
        };
    let defaults = RefreshPolicy::default();
    let refresh = RefreshPolicy {
        min_interval: Duration::from_secs(seconds(
            "jwks_min_refresh_seconds",
            1..=3600,
            defaults.min_interval.as_secs(),
        )?),
        timeout: Duration::from_millis(seconds(
            "jwks_timeout_ms",
            100..=10_000,
            u64::try_from(defaults.timeout.as_millis()).unwrap_or(2000),
        )?),
        max_age: Duration::from_secs(seconds(
            "jwks_max_age_seconds",
            60..=86_400,
            defaults.max_age.as_secs(),
        )?),
    };
    if refresh.max_age < refresh.min_interval {
        return Err(err(
            "jwks_max_age_seconds",
            "must be at least jwks_min_refresh_seconds",
        ));
    }
    Ok(IssuerConfig {
        issuer,
        jwks_url,
        audience,
        token_use,
        channels_claim,
        channels,
        publish_claim,
        publish,
        refresh,
    })
}

/// `https://host…`, or `http://` on 127.0.0.1, localhost or `[::1]`.
pub fn check_jwks_url(url: &str) -> Result<(), &'static str> {
    const RULE: &str = "must be https://…, or http:// on 127.0.0.1, localhost or [::1]";
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("holds white space or control characters");
    }
    let lower = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let (rest, https) = if lower.starts_with("https://") {
        (&url[8..], true)
    } else if lower.starts_with("http://") {
        (&url[7..], false)
    } else {
        return Err(RULE);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, _port) = split_host_port(&rest[..end]).ok_or("has no valid host[:port]")?;
    if https || loopback_host(host).is_some() {
        Ok(())
    } else {
        Err(RULE)
    }
}

/// A template is channel characters, `{sub}` placeholders and at most one
/// `*`, at the end.
fn check_template(template: &str) -> Result<(), &'static str> {
    if template.is_empty() {
        return Err("is empty");
    }
    if template.len() > MAX_TEMPLATE_BYTES {
        return Err("is longer than 128 characters");
    }
    let literal = template.replace("{sub}", "");
    let body = literal.strip_suffix('*').unwrap_or(&literal);
    if body.contains(['{', '}']) {
        return Err("has a placeholder other than {sub}");
    }
    if body.contains('*') {
        return Err("has a * that is not its last character");
    }
    if !body.chars().all(is_channel_char) {
        return Err("has characters outside A-Z a-z 0-9 _ - . : (and {sub}, a final *)");
    }
    Ok(())
}

fn is_channel_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

/// Why an issuer token was refused. [`IssuerError::status`] is what the
/// client sees (with [`IssuerError::category`] only); the `Display` form is
/// for the log. Neither ever contains the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    #[error("no token")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("algorithm {0:?} is neither RS256 nor ES256")]
    Algorithm(String),
    #[error("the token's iss is not a configured issuer")]
    UnknownIssuer,
    #[error("the issuer has no key with the token's kid")]
    UnknownKey,
    #[error("the token says {header} but its key verifies {key} only")]
    KeyAlgorithm {
        header: &'static str,
        key: &'static str,
    },
    #[error("bad signature")]
    BadSignature,
    #[error("expired at {0}")]
    Expired(i64),
    #[error("not valid before {0}")]
    NotYetValid(i64),
    #[error("no iat")]
    MissingIssuedAt,
    #[error("lifetime (exp - iat) of {lifetime} s is over the maximum of {max} s")]
    Lifetime { lifetime: i64, max: i64 },
    #[error("wrong issuer")]
    Issuer,
    #[error("wrong audience")]
    Audience,
    #[error("wrong token_use")]
    TokenUse,
    #[error("sub is missing or has characters outside A-Z a-z 0-9 _ - . : so channel templates cannot use it")]
    Subject,
    #[error("claim {0} is malformed")]
    Claim(&'static str),
    #[error("keys unavailable: {0}")]
    Unavailable(String),
}

impl IssuerError {
    /// 503 when the issuer's keys could not be fetched, 401 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unavailable(_) => 503,
            _ => 401,
        }
    }

    /// The answer's `message`: the category only.
    pub fn category(&self) -> &'static str {
        match self.status() {
            503 => "Service Unavailable",
            _ => "Unauthorized",
        }
    }
}

/// What a verified issuer token grants. The patterns are as the token and
/// the templates give them: the caller validates each (an exact channel
/// name, a prefix ending in `*`, or `*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerGrants {
    /// The `iss` of the token.
    pub issuer: String,
    /// The `sub` of the token.
    pub subject: Option<String>,
    /// Patterns the holder may subscribe to, each once, in order.
    pub channels: Vec<String>,
    /// Patterns the holder may publish to.
    pub publish: Vec<String>,
    /// The token's `exp`, seconds since the epoch.
    pub expires_at: i64,
}

/// The part of an entry that decides whether a token is for this
/// deployment, and what it grants.
#[derive(Debug)]
struct Rule {
    audience: Audience,
    token_use: Option<String>,
    channels_claim: Option<String>,
    channels: Vec<String>,
    publish_claim: Option<String>,
    publish: Vec<String>,
}

#[derive(Debug)]
struct Issuer {
    iss: String,
    keys: IssuerKeys,
    rules: Vec<Rule>,
}

/// The configured issuers with their key caches, and the port that fetches
/// their JWKS documents. Built at init (nothing is fetched then); one per
/// execution environment, shared by every invocation.
#[derive(Debug)]
pub struct Issuers<F> {
    issuers: Vec<Issuer>,
    fetcher: F,
    max_lifetime_secs: i64,
}

impl<F: JwksFetcher> Issuers<F> {
    /// `max_lifetime_secs` caps `exp - iat`: the deployment's maximum token
    /// lifetime, the same as for its own tokens. Entries with the same
    /// issuer share one key cache (with the first entry's refresh policy).
    pub fn new(configs: Vec<IssuerConfig>, fetcher: F, max_lifetime_secs: u64) -> Self {
        let mut issuers: Vec<Issuer> = Vec::new();
        for config in configs {
            let rule = Rule {
                audience: config.audience,
                token_use: config.token_use,
                channels_claim: config.channels_claim,
                channels: config.channels,
                publish_claim: config.publish_claim,
                publish: config.publish,
            };
            match issuers.iter_mut().find(|i| i.iss == config.issuer) {
                Some(issuer) => issuer.rules.push(rule),
                None => issuers.push(Issuer {
                    keys: IssuerKeys::new(config.jwks_url, config.refresh),
                    iss: config.issuer,
                    rules: vec![rule],
                }),
            }
        }
        Self {
            issuers,
            fetcher,
            max_lifetime_secs: i64::try_from(max_lifetime_secs).unwrap_or(i64::MAX),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// Whether `iss` is one of the configured issuers.
    pub fn knows(&self, iss: &str) -> bool {
        self.issuers.iter().any(|i| i.iss == iss)
    }

    /// The configured issuers' `iss` values.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.iter().map(|i| i.iss.as_str())
    }

    /// JWKS fetches started for `iss` so far (tests, metrics).
    pub fn fetches(&self, iss: &str) -> u64 {
        self.issuers
            .iter()
            .find(|i| i.iss == iss)
            .map_or(0, |i| i.keys.fetches())
    }

    pub fn fetcher(&self) -> &F {
        &self.fetcher
    }

    /// Verifies `token` at `now` (seconds since the epoch) and answers what
    /// it grants. May fetch the issuer's JWKS (see [`super::jwks`]); never
    /// takes longer than the issuer's fetch timeout, plus the wait for a
    /// fetch already in flight.
    pub async fn verify(&self, token: &str, now: i64) -> Result<IssuerGrants, IssuerError> {
        let parts = Parts::split(token)?;
        let iss = match parts.claims.get("iss") {
            Some(Value::String(iss)) => iss,
            Some(_) => return Err(IssuerError::Claim("iss")),
            None => return Err(IssuerError::UnknownIssuer),
        };
        let issuer = self
            .issuers
            .iter()
            .find(|i| &i.iss == iss)
            .ok_or(IssuerError::UnknownIssuer)?;
        let key = match issuer.keys.lookup(&parts.kid, &self.fetcher).await {
            Lookup::Found(key) => key,
            Lookup::Unknown => return Err(IssuerError::UnknownKey),
            Lookup::Unavailable(reason) => return Err(IssuerError::Unavailable(reason)),
        };
        if key.algorithm() != parts.algorithm {
            return Err(IssuerError::KeyAlgorithm {
                header: parts.algorithm.name(),
                key: key.algorithm().name(),
            });
        }
        if !key.verifies(parts.algorithm, parts.signed.as_bytes(), &parts.signature) {
            return Err(IssuerError::BadSignature);
        }
        // Signed: the claims may be read.
        let claims = &parts.claims;
        let exp = numeric_date(claims, "exp")?.ok_or(IssuerError::Claim("exp"))?;
        if now > exp.saturating_add(LEEWAY_SECS) {
            return Err(IssuerError::Expired(exp));
        }
        if let Some(nbf) = numeric_date(claims, "nbf")? {
            if now.saturating_add(LEEWAY_SECS) < nbf {
                return Err(IssuerError::NotYetValid(nbf));
            }
        }
        let iat = numeric_date(claims, "iat")?.ok_or(IssuerError::MissingIssuedAt)?;
        if now.saturating_add(LEEWAY_SECS) < iat {
            return Err(IssuerError::NotYetValid(iat));
        }
        let lifetime = exp.saturating_sub(iat);
        if lifetime > self.max_lifetime_secs {
            return Err(IssuerError::Lifetime {
                lifetime,
                max: self.max_lifetime_secs,
            });
        }
        if iss != &issuer.iss {
            return Err(IssuerError::Issuer);
        }
        let rule = matching_rule(&issuer.rules, claims)?;
        let subject = match claims.get("sub") {
            None | Some(Value::Null) => None,
            Some(Value::String(sub))
                if !sub.is_empty()
                    && sub.len() <= MAX_SUBJECT_BYTES
                    && !sub.chars().any(char::is_control) =>
            {
                Some(sub.clone())
            }
            Some(_) => return Err(IssuerError::Claim("sub")),
        };
        let channels = grants(
            claims,
            rule.channels_claim.as_deref(),
            &rule.channels,
            subject.as_deref(),
        )?;
        let publish = grants(
            claims,
            rule.publish_claim.as_deref(),
            &rule.publish,
            subject.as_deref(),
        )?;
        Ok(IssuerGrants {
            issuer: issuer.iss.clone(),
            subject,
            channels,
            publish,
            expires_at: exp,
        })
    }
}

/// The `iss` of `token`, unverified: for choosing between our own tokens
/// and [`Issuers`], never for trusting anything.
pub fn unverified_issuer(token: &str) -> Option<String> {
    if token.len() > MAX_ISSUER_TOKEN_BYTES {
        return None;
    }
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Iss>(&bytes).ok().map(|c| c.iss)
}

/// A token cut into what verification needs.
struct Parts<'a> {
    algorithm: Algorithm,
    kid: String,
    /// Header and payload exactly as sent: the signed input.
    signed: &'a str,
    signature: Vec<u8>,
    claims: Map<String, Value>,
}

impl<'a> Parts<'a> {
    fn split(token: &'a str) -> Result<Self, IssuerError> {
        if token.is_empty() {
            return Err(IssuerError::Missing);
        }
        if token.len() > MAX_ISSUER_TOKEN_BYTES {
            return Err(IssuerError::Malformed("longer than 16 KiB"));
        }
        let mut parts = token.split('.');
        let (Some(header_part), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(IssuerError::Malformed("not three base64url parts"));
        };
        #[derive(Deserialize)]
        struct Header {
            alg: String,
            #[serde(default)]
            kid: Option<String>,
            #[serde(default)]
            typ: Option<String>,
            #[serde(default)]
            crit: Option<Value>,
        }
        let header: Header = URL_SAFE_NO_PAD
            .decode(header_part)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(IssuerError::Malformed(
                "header is not a base64url JWS header",
            ))?;
        let algorithm = Algorithm::from_name(&header.alg)
            .ok_or_else(|| IssuerError::Algorithm(header.alg.chars().take(32).collect()))?;
        if header.crit.is_some() {
            return Err(IssuerError::Malformed("critical header extensions"));
        }
        // JWT, or an RFC 9068 access token; nothing else.
        if let Some(typ) = header.typ.as_deref() {
            let typ = typ.to_ascii_lowercase();
            let typ = typ.strip_prefix("application/").unwrap_or(&typ);
            if typ != "jwt" && typ != "at+jwt" {
                return Err(IssuerError::Malformed("typ is neither JWT nor at+jwt"));
            }
        }
        let kid = header
            .kid
            .filter(|k| !k.is_empty())
            .ok_or(IssuerError::Malformed("no kid"))?;
        let claims: Map<String, Value> = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(IssuerError::Malformed(
                "claims are not a base64url JSON object",
            ))?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| IssuerError::Malformed("signature is not base64url"))?;
        // The signed input: header and payload exactly as sent.
        let signed = &token[..header_part.len() + 1 + payload.len()];
        Ok(Self {
            algorithm,
            kid,
            signed,
            signature,
            claims,
        })
    }
}

/// RFC 7519 NumericDate: seconds, possibly with a fraction (dropped).
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, IssuerError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 1e15)
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(IssuerError::Claim(name)),
        Some(_) => Err(IssuerError::Claim(name)),
    }
}

/// The first rule whose audience (or client id) and token use the claims
/// satisfy.
fn matching_rule<'r>(
    rules: &'r [Rule],
    claims: &Map<String, Value>,
) -> Result<&'r Rule, IssuerError> {
    let mut error = IssuerError::Audience;
    for rule in rules {
        let audience_ok = match &rule.audience {
            Audience::Aud(aud) => match claims.get("aud") {
                Some(Value::String(one)) => one == aud,
                Some(Value::Array(many)) => many.iter().any(|v| v.as_str() == Some(aud)),
                _ => false,
            },
            Audience::ClientId(id) => claims.get("client_id").and_then(Value::as_str) == Some(id),
        };
        if !audience_ok {
            continue;
        }
        let use_ok = rule
            .token_use
            .as_deref()
            .is_none_or(|wanted| claims.get("token_use").and_then(Value::as_str) == Some(wanted));
        if use_ok {
            return Ok(rule);
        }
        error = IssuerError::TokenUse;
    }
    Err(error)
}

/// The patterns from `claim` (an array of strings, or one string of
/// patterns separated by white space), then the expanded `templates`, each
/// once.
fn grants(
    claims: &Map<String, Value>,
    claim: Option<&str>,
    templates: &[String],
    subject: Option<&str>,
) -> Result<Vec<String>, IssuerError> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |pattern: &str| -> Result<(), IssuerError> {
        if !pattern.is_empty() && !out.iter().any(|p| p == pattern) {
            if out.len() == MAX_GRANTS {
                return Err(IssuerError::Claim("channel patterns (more than 100)"));
            }
            out.push(pattern.to_owned());
        }
        Ok(())
    };
    if let Some(name) = claim {
        match claims.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::String(list)) => {
                for pattern in list.split_whitespace() {
                    push(pattern)?;
                }
            }
            Some(Value::Array(list)) => {
                for item in list {
                    push(
                        item.as_str()
                            .ok_or(IssuerError::Claim("channel patterns"))?,
                    )?;
                }
            }
            Some(_) => return Err(IssuerError::Claim("channel patterns")),
        }
    }
    for template in templates {
        if template.contains("{sub}") {
            let sub = subject
                .filter(|s| s.len() <= MAX_TEMPLATE_BYTES && s.chars().all(is_channel_char))
                .ok_or(IssuerError::Subject)?;
            push(&template.replace("{sub}", sub))?;
        } else {
            push(template)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_channel_characters_sub_and_a_final_star() {
        for good in [
            "lobby",
            "user:{sub}:*",
            "*",
            "{sub}",
            "a-{sub}.{sub}_b",
            "room-*",
        ] {
            assert_eq!(check_template(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "a*b",
            "**",
            "{user}",
            "{sub",
            "a b",
            "é",
            "user:{sub}:*x",
            "x/y",
        ] {
            assert!(check_template(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jwks_urls_are_https_or_loopback_http() {
        for good in [
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC/.well-known/jwks.json",
            "HTTPS://tenant.eu.auth0.com/.well-known/jwks.json",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:9000/jwks",
        ] {
            assert_eq!(check_jwks_url(good), Ok(()), "{good}");
        }
        for bad in [
            "http://example.com/jwks",
            "http://10.0.0.1/jwks",
            "http://127.0.0.1.nip.io/jwks",
            "http://localhost@evil.example/jwks",
            "https://user@tenant.auth0.com/jwks",
            "ftp://127.0.0.1/jwks",
            "https:///jwks",
            "//127.0.0.1/jwks",
            "https://a b/",
            "https://host:99999/",
        ] {
            assert!(check_jwks_url(bad).is_err(), "{bad}");
        }
    }
}
