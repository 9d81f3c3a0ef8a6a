//! Subscriber tokens: who may listen to which channel.
//!
//! A token is a JWT (RFC 7519) in JWS compact form, signed **ES256** (ECDSA
//! P-256 with SHA-256), header `{"alg":"ES256","typ":"JWT","kid":…}`, claims:
//!
//! | claim      | required | meaning                                                  |
//! |------------|----------|----------------------------------------------------------|
//! | `channels` | yes      | patterns of the channels the holder may subscribe to (1–16) |
//! | `publish`  | no       | patterns of the channels it may publish to over its socket (0–16) |
//! | `exp`      | yes      | expiry, seconds since the epoch                          |
//! | `iat`      | yes      | issued at                                                |
//! | `aud`      | yes      | this deployment (a deployment identifier)                |
//! | `iss`      | yes      | who minted it                                            |
//! | `sub`      | no       | who holds it, for the logs                               |
//! | `nbf`      | no       | not valid before                                         |
//!
//! Verification ([`Verifier`]) is pure code: no network call, keys known at
//! start. Only ES256 is accepted — `none`, `HS*` (including an HMAC keyed
//! with the public key's bytes) and `RS*` are refused before any key is
//! used — and the signature is checked before the claims are read. Clock
//! skew is allowed up to [`LEEWAY_SECS`]. A token's lifetime (`exp - iat`)
//! is capped at verification too, not only at minting, and an `iat` in the
//! future (past the leeway) is refused, so that it cannot stretch the cap.
//!
//! A pattern ([`crate::Pattern`]) is a channel name, a prefix ending in `*`,
//! or `*`.
//!
//! Minting ([`mint`]) signs through the [`TokenSigner`] port: KMS on AWS
//! (the private key never leaves it), [`LocalSigner`] in the local gateway.

pub mod auth;
pub mod issuers;
pub mod jwk;
pub mod jwks;
mod keys;
pub mod loopback;

use std::future::Future;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::{Deserialize, Serialize};

use crate::pattern::{parse_all, Grants, Pattern, PatternError};

pub use keys::{der_signature_to_jws, Jwk, Jwks, KeyError, PublicKey, SIGNATURE_LEN};

/// The only signature algorithm accepted, and the one tokens are minted with.
pub const ALGORITHM: &str = "ES256";
/// How far apart the minting and the verifying clocks may be.
pub const LEEWAY_SECS: i64 = 60;
/// Longest token accepted, in bytes. A token with 16 channel names of 128
/// characters is about 3.4 KB; anything much larger is not one of ours.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Most patterns one token's `channels` (and its `publish`) may hold. A token
/// may travel in the `$connect` URL (`?token=`): 16 patterns of up to 128
/// characters in each list keep the longest token near 6.5 KB, inside the
/// 8 KB request lines that browsers, proxies and API Gateway accept (the
/// `token.<JWT>` subprotocol keeps it out of the URL); a prefix pattern
/// (`room-*`) covers what would take many names.
pub const MAX_TOKEN_CHANNELS: usize = 16;
/// The longest token lifetime (`TOKEN_MAX_TTL_SECONDS`), by default: one day.
pub const DEFAULT_TOKEN_MAX_TTL_SECS: u64 = 86_400;
/// The most `TOKEN_MAX_TTL_SECONDS` may be: a week. Tokens cannot be revoked
/// one by one, so their lifetime is what bounds a leaked one.
pub const MAX_TOKEN_MAX_TTL_SECS: u64 = 7 * 86_400;

/// Lifetime of a token when the mint request names none.
pub const DEFAULT_TTL_SECS: u64 = 3600;
/// Longest `subject`, in bytes.
pub const MAX_SUBJECT_BYTES: usize = 256;

/// Why a token was refused. [`TokenError::status`] is what the client sees
/// (with the category only); the `Display` form is the reason for the log.
/// Neither ever contains the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no token")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("algorithm {0:?} is not ES256")]
    Algorithm(String),
    #[error("no configured key has the token's kid")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
    #[error("expired at {0}")]
    Expired(i64),
    #[error("not valid before {0}")]
    NotYetValid(i64),
    #[error("wrong audience")]
    Audience,
    #[error("wrong issuer")]
    Issuer,
    #[error("lifetime of {0} s is over the maximum")]
    Lifetime(i64),
    #[error("issued in the future, at {0}")]
    IssuedInFuture(i64),
    #[error("channel {0} is not granted by the token")]
    Channel(String),
}

impl TokenError {
    /// 403 when the token is good but does not grant the channel, 401 for
    /// everything else.
    pub fn status(&self) -> u16 {
        match self {
            Self::Channel(_) => 403,
            _ => 401,
        }
    }

    /// The answer's `message`: the category only.
    pub fn category(&self) -> &'static str {
        match self.status() {
            403 => "Forbidden",
            _ => "Unauthorized",
        }
    }
}

/// The claims of a subscriber token, as read.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Claims {
    pub channels: Vec<String>,
    #[serde(default)]
    pub publish: Vec<String>,
    #[serde(deserialize_with = "numeric_date")]
    pub exp: i64,
    #[serde(deserialize_with = "numeric_date")]
    pub iat: i64,
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub iss: String,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default, deserialize_with = "optional_numeric_date")]
    pub nbf: Option<i64>,
}

/// RFC 7519 NumericDate: seconds, possibly with a fraction (dropped).
fn numeric_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e15)
                .map(|f| f.floor() as i64)
        })
        .ok_or_else(|| serde::de::Error::custom("not a NumericDate"))
}

fn optional_numeric_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    numeric_date(d).map(Some)
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(d)? {
        Aud::One(one) => vec![one],
        Aud::Many(many) => many,
    })
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// Checks tokens against a set of public keys, an audience, an issuer and
/// a maximum lifetime.
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: Vec<PublicKey>,
    audience: String,
    issuer: String,
    max_lifetime_secs: i64,
}

impl Verifier {
    /// A verifier accepting lifetimes up to the default maximum
    /// (`TOKEN_MAX_TTL_SECONDS`'s default, a day); see [`Self::with_max_lifetime`].
    pub fn new(
        keys: Vec<PublicKey>,
        audience: impl Into<String>,
        issuer: impl Into<String>,
    ) -> Self {
        Self {
            keys,
            audience: audience.into(),
            issuer: issuer.into(),
            max_lifetime_secs: i64::try_from(DEFAULT_TOKEN_MAX_TTL_SECS).unwrap_or(i64::MAX),
        }
    }

    /// Refuses tokens whose `exp - iat` is over `secs`.
    pub fn with_max_lifetime(mut self, secs: u64) -> Self {
        self.max_lifetime_secs = i64::try_from(secs).unwrap_or(i64::MAX);
        self
    }

    pub fn max_lifetime_secs(&self) -> i64 {
        self.max_lifetime_secs
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The claims of `token` if it is well formed, signed ES256 by one of the
    /// keys, current at `now` (seconds, ± [`LEEWAY_SECS`]), for this audience
    /// and from this issuer.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed("longer than 8 KiB"));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed("not three base64url parts"));
        };
        let header: Header = decode_json(header, "header")?;
        if header.alg != ALGORITHM {
            return Err(TokenError::Algorithm(header.alg.chars().take(32).collect()));
        }
        if header.crit.is_some() {
            return Err(TokenError::Malformed("critical header extensions"));
        }
        if header
            .typ
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("JWT"))
        {
            return Err(TokenError::Malformed("typ is not JWT"));
        }
        let key = match (&header.kid, self.keys.as_slice()) {
            (Some(kid), keys) => keys.iter().find(|k| k.kid() == kid),
            (None, [only]) => Some(only),
            (None, _) => None,
        }
        .ok_or(TokenError::UnknownKey)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed("signature is not base64url"))?;
        if signature.len() != SIGNATURE_LEN {
            return Err(TokenError::BadSignature);
        }
        // The signed input is the first two parts exactly as sent.
        let signed = &token[..header_and_payload_len(token)];
        if !key.verifies(signed.as_bytes(), &signature) {
            return Err(TokenError::BadSignature);
        }
        let claims: Claims = decode_json(payload, "claims")?;
        if now > claims.exp.saturating_add(LEEWAY_SECS) {
            return Err(TokenError::Expired(claims.exp));
        }
        if let Some(nbf) = claims.nbf {
            if now.saturating_add(LEEWAY_SECS) < nbf {
                return Err(TokenError::NotYetValid(nbf));
            }
        }
        // An iat in the future would stretch the lifetime cap: iat = now + 6 d,
        // exp = now + 7 d measures a day, yet the token lives a week.
        if now.saturating_add(LEEWAY_SECS) < claims.iat {
            return Err(TokenError::IssuedInFuture(claims.iat));
        }
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if lifetime > self.max_lifetime_secs {
            return Err(TokenError::Lifetime(lifetime));
        }
        if !claims.aud.contains(&self.audience) {
            return Err(TokenError::Audience);
        }
        if claims.iss != self.issuer {
            return Err(TokenError::Issuer);
        }
        Ok(claims)
    }

    /// [`Self::verify`], then whether the token grants subscribing to
    /// `channel` (403 [`TokenError::Channel`] when not).
    pub fn authorize(
        &self,
        token: Option<&str>,
        channel: &crate::ChannelName,
        now: i64,
    ) -> Result<Claims, TokenError> {
        let (claims, grants) = self.grants(token.unwrap_or(""), now)?;
        if grants.can_subscribe(channel) {
            Ok(claims)
        } else {
            Err(TokenError::Channel(channel.to_string()))
        }
    }

    /// [`Self::verify`], then the token's grants.
    pub fn grants(&self, token: &str, now: i64) -> Result<(Claims, Grants), TokenError> {
        let claims = self.verify(token, now)?;
        let grants = claims.grants()?;
        Ok((claims, grants))
    }
}

impl Claims {
    /// The patterns the token grants; a pattern that does not parse makes
    /// the token malformed.
    pub fn grants(&self) -> Result<Grants, TokenError> {
        let malformed = |_| TokenError::Malformed("a channel pattern is invalid");
        Ok(Grants {
            subscribe: parse_all(&self.channels).map_err(malformed)?,
            publish: parse_all(&self.publish).map_err(malformed)?,
        })
    }
}

fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

fn decode_json<T: serde::de::DeserializeOwned>(
    part: &str,
    what: &'static str,
) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| {
        TokenError::Malformed(match what {
            "header" => "header is not base64url",
            _ => "claims are not base64url",
        })
    })?;
    serde_json::from_slice(&bytes).map_err(|_| {
        TokenError::Malformed(match what {
            "header" => "header is not a JWS header",
            _ => "claims are missing or of the wrong type",
        })
    })
}

/// Why a signature could not be made. Logged, never shown to clients.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("token signer: {0}")]
    Unavailable(String),
    #[error("token signer: the signature does not verify with the configured public key {kid} (is the signing key the first of TOKEN_PUBLIC_KEYS?)")]
    KeyMismatch { kid: String },
}

/// Port: signs token input with the private half of a P-256 key.
pub trait TokenSigner: Send + Sync {
    /// The ES256 signature of `message`, as `r‖s`.
    fn sign(
        &self,
        message: &[u8],
    ) -> impl Future<Output = Result<[u8; SIGNATURE_LEN], SignError>> + Send;
}

/// A P-256 key generated in memory: the local gateway's signer.
#[derive(Debug)]
pub struct LocalSigner {
    pair: EcdsaKeyPair,
    public: PublicKey,
    rng: SystemRandom,
}

impl LocalSigner {
    /// A fresh key pair from the system's random source.
    pub fn generate() -> Result<Self, SignError> {
        let rng = SystemRandom::new();
        let unavailable = |e: ring::error::Unspecified| SignError::Unavailable(e.to_string());
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(unavailable)?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|e| SignError::Unavailable(e.to_string()))?;
        let public = PublicKey::from_sec1(pair.public_key().as_ref())
            .map_err(|e| SignError::Unavailable(e.to_string()))?;
        Ok(Self { pair, public, rng })
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }
}

impl TokenSigner for LocalSigner {
    async fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], SignError> {
        let signature = self
            .pair
            .sign(&self.rng, message)
            .map_err(|e| SignError::Unavailable(e.to_string()))?;
        signature
            .as_ref()
            .try_into()
            .map_err(|_| SignError::Unavailable("unexpected signature length".to_owned()))
    }
}

/// What `POST /tokens` takes: JSON
/// `{"channels":["lobby","room-*"],"publish":["room-*"],"ttlSeconds":N,"subject":"…"}`,
/// or the same fields form-encoded (`channels=lobby,room-*&ttlSeconds=900`),
/// which is what `curl -d` sends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MintRequest {
    pub channels: Vec<String>,
    #[serde(default)]
    pub publish: Vec<String>,
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    #[serde(default)]
    pub subject: Option<String>,
}

/// A mint request that passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidMint {
    pub channels: Vec<Pattern>,
    pub publish: Vec<Pattern>,
    pub ttl_secs: u64,
    pub subject: Option<String>,
}

/// Why a mint request was refused (400); the message is for the client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    #[error("the body must be JSON like {{\"channels\":[\"lobby\",\"room-*\"],\"publish\":[\"room-*\"],\"ttlSeconds\":900,\"subject\":\"user-42\"}} or a form like channels=lobby,room-1&ttlSeconds=900: {0}")]
    Body(String),
    #[error("channels must name 1 to 16 channel patterns; it names {0}")]
    ChannelCount(usize),
    #[error("publish may name at most 16 channel patterns; it names {0}")]
    PublishCount(usize),
    #[error("{field}[{index}]: {error}")]
    Pattern {
        field: &'static str,
        index: usize,
        error: PatternError,
    },
    #[error("ttlSeconds must be from 1 to {max}; it is {got}")]
    Ttl { got: u64, max: u64 },
    #[error("subject must be 1 to 256 bytes without control characters")]
    Subject,
}

impl MintRequest {
    /// Parses and validates a request body against the deployment's maximum
    /// lifetime: JSON when it starts with `{`, a form otherwise. Repeated
    /// patterns are kept once.
    pub fn parse(body: &[u8], max_ttl_secs: u64) -> Result<ValidMint, MintError> {
        let request = if body.trim_ascii_start().starts_with(b"{") {
            serde_json::from_slice(body).map_err(|e| MintError::Body(e.to_string()))?
        } else {
            Self::from_form(body)?
        };
        request.validate(max_ttl_secs)
    }

    /// `channels` and `publish` (comma-separated, or repeated), `ttlSeconds`,
    /// `subject`.
    fn from_form(body: &[u8]) -> Result<Self, MintError> {
        let mut request = Self::default();
        let mut named_channels = false;
        for (name, value) in form_urlencoded::parse(body) {
            let list = |value: &str| -> Vec<String> {
                value.split(',').map(str::trim).map(str::to_owned).collect()
            };
            match name.as_ref() {
                "channels" => {
                    named_channels = true;
                    request.channels.extend(list(&value));
                }
                "publish" => request.publish.extend(list(&value)),
                "ttlSeconds" => {
                    let ttl = value.trim().parse().map_err(|_| {
                        MintError::Body(format!("ttlSeconds {value:?} is not a whole number"))
                    })?;
                    request.ttl_seconds = Some(ttl);
                }
                "subject" => request.subject = Some(value.into_owned()),
                other => {
                    return Err(MintError::Body(format!(
                        "unknown field {other:?}, expected one of channels, publish, ttlSeconds, subject"
                    )))
                }
            }
        }
        if !named_channels {
            return Err(MintError::Body("missing field `channels`".to_owned()));
        }
        Ok(request)
    }

    pub fn validate(self, max_ttl_secs: u64) -> Result<ValidMint, MintError> {
        if !(1..=MAX_TOKEN_CHANNELS).contains(&self.channels.len()) {
            return Err(MintError::ChannelCount(self.channels.len()));
        }
        if self.publish.len() > MAX_TOKEN_CHANNELS {
            return Err(MintError::PublishCount(self.publish.len()));
        }
        let patterns = |field: &'static str, texts: &[String]| -> Result<Vec<Pattern>, MintError> {
            let mut patterns: Vec<Pattern> = Vec::with_capacity(texts.len());
            for (index, text) in texts.iter().enumerate() {
                let pattern = Pattern::parse(text).map_err(|error| MintError::Pattern {
                    field,
                    index,
                    error,
                })?;
                if !patterns.contains(&pattern) {
                    patterns.push(pattern);
                }
            }
            Ok(patterns)
        };
        let channels = patterns("channels", &self.channels)?;
        let publish = patterns("publish", &self.publish)?;
        let ttl_secs = self
            .ttl_seconds
            .unwrap_or(DEFAULT_TTL_SECS.min(max_ttl_secs));
        if !(1..=max_ttl_secs).contains(&ttl_secs) {
            return Err(MintError::Ttl {
                got: ttl_secs,
                max: max_ttl_secs,
            });
        }
        let subject = match self.subject {
            None => None,
            Some(s)
                if !s.is_empty()
                    && s.len() <= MAX_SUBJECT_BYTES
                    && !s.chars().any(char::is_control) =>
            {
                Some(s)
            }
            Some(_) => return Err(MintError::Subject),
        };
        Ok(ValidMint {
            channels,
            publish,
            ttl_secs,
            subject,
        })
    }
}

/// What `POST /tokens` answers: `{"token","expiresAt","channels","publish"?}`,
/// with `expiresAt` in seconds since the epoch (the token's `exp`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Minted {
    pub token: String,
    pub expires_at: i64,
    pub channels: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<String>,
}

/// Who mints: the signer's public key (its kid goes in the header, and every
/// signature is checked against it), the audience and the issuer.
#[derive(Clone, Debug)]
pub struct Minter {
    pub key: PublicKey,
    pub audience: String,
    pub issuer: String,
    pub max_ttl_secs: u64,
}

/// Signs a token for `request` at `now` (seconds). The signature is verified
/// with `minter.key` before the token is handed out, so a signer that does
/// not hold that key fails here rather than at every `$connect`.
pub async fn mint<S: TokenSigner>(
    signer: &S,
    minter: &Minter,
    request: ValidMint,
    now: i64,
) -> Result<Minted, SignError> {
    let channels: Vec<String> = request.channels.iter().map(ToString::to_string).collect();
    let publish: Vec<String> = request.publish.iter().map(ToString::to_string).collect();
    let exp = now.saturating_add(i64::try_from(request.ttl_secs).unwrap_or(i64::MAX));
    let header = serde_json::json!({ "alg": ALGORITHM, "typ": "JWT", "kid": minter.key.kid() });
    // `aud` as one string, which every JWT library reads.
    let mut claims = serde_json::json!({
        "channels": channels,
        "exp": exp,
        "iat": now,
        "aud": minter.audience,
        "iss": minter.issuer,
    });
    if !publish.is_empty() {
        claims["publish"] = serde_json::json!(publish);
    }
    if let Some(subject) = request.subject {
        claims["sub"] = serde_json::Value::String(subject);
    }
    let input = format!("{}.{}", base64url_json(&header), base64url_json(&claims));
    let signature = signer.sign(input.as_bytes()).await?;
    if !minter.key.verifies(input.as_bytes(), &signature) {
        return Err(SignError::KeyMismatch {
            kid: minter.key.kid().to_owned(),
        });
    }
    Ok(Minted {
        token: format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)),
        expires_at: exp,
        channels,
        publish,
    })
}

fn base64url_json(value: &serde_json::Value) -> String {
    // Writing a `Value` to a Vec cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}
