//! What the integration tests share: channel names, publish options whose
//! retries do not wait, the report of a synchronous publish, and the
//! deployment's token settings with a minter, a verifier and tokens signed
//! by hand over chosen claims.
//!
//! Each test file is its own crate and uses only some of these.

#![allow(dead_code)]

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use channels::fanout::PublishReport;
use channels::token::{LocalSigner, Minter, TokenSigner, Verifier};
use channels::{ChannelName, PublishOptions};
use serde_json::{json, Value};

/// The channel `name`, which must be valid.
pub fn channel(name: &str) -> ChannelName {
    ChannelName::parse(name).unwrap_or_else(|e| panic!("{name:?} is a valid name: {e}"))
}

pub fn lobby() -> ChannelName {
    channel("lobby")
}

/// Publish options whose retries start after 1 ms and wait at most `cap`.
pub fn backing_off_to(cap: Duration) -> PublishOptions {
    PublishOptions {
        backoff_base: Duration::from_millis(1),
        backoff_cap: cap,
        ..PublishOptions::default()
    }
}

/// Publish options whose retries wait 1 ms to 5 ms.
pub fn fast() -> PublishOptions {
    backing_off_to(Duration::from_millis(5))
}

pub fn report(
    name: &str,
    recipients: u64,
    delivered: u64,
    gone: u64,
    failed: u64,
) -> PublishReport {
    PublishReport {
        channel: name.to_owned(),
        recipients,
        delivered,
        gone,
        failed,
    }
}

/// The deployment's audience, issuer and clock for the token tests.
pub const AUD: &str = "wss://abc.execute-api.eu-west-1.amazonaws.com/staging";
pub const ISS: &str = "https://xyz.execute-api.eu-west-1.amazonaws.com/staging";
pub const NOW: i64 = 1_800_000_000;

/// `value` as JSON in unpadded base64url, as a token part.
pub fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// The header a token signed by `signer` carries.
pub fn header(signer: &LocalSigner) -> Value {
    json!({ "alg": "ES256", "typ": "JWT", "kid": signer.public_key().kid() })
}

/// `header.claims.signature`, signed by `signer` over what is sent.
pub async fn sign(signer: &LocalSigner, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let signature = signer.sign(input.as_bytes()).await.unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A token signed by `signer` over exactly these claims.
pub async fn hand_signed(signer: &LocalSigner, claims: &Value) -> String {
    sign(signer, &header(signer), claims).await
}

/// The deployment's verifier, with `signer`'s key.
pub fn verifier(signer: &LocalSigner) -> Verifier {
    Verifier::new(vec![signer.public_key().clone()], AUD, ISS)
}

/// The deployment's minter, with `signer`'s key and a lifetime of a day at most.
pub fn minter(signer: &LocalSigner) -> Minter {
    Minter {
        key: signer.public_key().clone(),
        audience: AUD.to_owned(),
        issuer: ISS.to_owned(),
        max_ttl_secs: 86_400,
    }
}
