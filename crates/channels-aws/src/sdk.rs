//! The SDK configuration of the Lambda functions, built from what Lambda
//! sets, in microseconds.
//!
//! `aws_config::load_from_env()` resolves region, credentials, endpoints,
//! retries and a dozen other settings through provider chains (environment,
//! profile files, the container and instance metadata services, SSO, STS…)
//! and builds an HTTPS client that loads the system's ~150 root
//! certificates. In a Lambda function all of that is known up front:
//!
//! - **region**: `AWS_REGION`;
//! - **credentials**: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//!   `AWS_SESSION_TOKEN`, which Lambda sets from the function's role for the
//!   life of the execution environment (what the default chain reads first);
//! - **endpoints**: AWS's own, unless `AWS_ENDPOINT_URL` or
//!   `AWS_ENDPOINT_URL_<SERVICE>` says otherwise (honoured as the SDKs do);
//! - **TLS**: every AWS endpoint presents a certificate that chains to one of
//!   the five Amazon Trust Services roots, so those five are the trust store
//!   ([`AMAZON_ROOTS_PEM`]): still full WebPKI verification by rustls, with
//!   `ring` as its crypto provider (the same crate that verifies tokens).
//!
//! One HTTPS client ([`https_client`]) serves every SDK client of a process.

use std::sync::OnceLock;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::region::Region;
use aws_types::SdkConfig;
use channels::config::ConfigError;

/// The Amazon Trust Services roots (Amazon Root CA 1–4 and the Starfield
/// Services Root G2 that cross-signs CA 1), PEM.
pub const AMAZON_ROOTS_PEM: &str = include_str!("roots/amazon-trust-services.pem");

/// The region, credentials and endpoint variables Lambda sets (and a local
/// run may set instead).
pub const AWS_REGION: &str = "AWS_REGION";
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";

/// The HTTPS client every SDK client of this process shares: rustls with
/// `ring`, trusting the Amazon Trust Services roots. Built once.
pub fn https_client() -> SharedHttpClient {
    static CLIENT: OnceLock<SharedHttpClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let trust = TrustStore::empty().with_pem_certificate(AMAZON_ROOTS_PEM.as_bytes());
            let context = TlsContext::builder()
                .with_trust_store(trust)
                .build()
                // Only the empty builder with a trust store: nothing to fail.
                .unwrap_or_default();
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                .tls_context(context)
                .build_https()
        })
        .clone()
}

/// The SDK configuration of a Lambda function, from `lookup` (the process
/// environment in [`from_env`]). Fails, naming the variable, when the
/// region or the credentials are missing.
pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, ConfigError> {
    let get = |name: &'static str| -> Result<String, ConfigError> {
        lookup(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or(ConfigError::Missing(name))
    };
    let credentials = Credentials::new(
        get(AWS_ACCESS_KEY_ID)?,
        get(AWS_SECRET_ACCESS_KEY)?,
        get(AWS_SESSION_TOKEN).ok(),
        None,
        "LambdaEnvironment",
    );
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(get(AWS_REGION)?))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client());
    if let Some(url) = endpoint_url(&lookup, None) {
        builder = builder.endpoint_url(url);
    }
    Ok(builder.build())
}

/// [`from_lookup`] on the process environment.
pub fn from_env() -> Result<SdkConfig, ConfigError> {
    from_lookup(|name| std::env::var(name).ok())
}

/// `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `DYNAMODB`), else `AWS_ENDPOINT_URL`,
/// unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`: how the SDKs read
/// endpoint overrides from the environment.
pub fn endpoint_url(
    lookup: &impl Fn(&str) -> Option<String>,
    service: Option<&str>,
) -> Option<String> {
    let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    if set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    service
        .and_then(|s| set(&format!("AWS_ENDPOINT_URL_{s}")))
        .or_else(|| set("AWS_ENDPOINT_URL"))
}

/// The service-specific endpoint override for `service`, from the process
/// environment (what the adapters' `from_conf` apply).
pub fn service_endpoint(service: &str) -> Option<String> {
    endpoint_url(&|name: &str| std::env::var(name).ok(), Some(service))
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

    const LAMBDA: &[(&str, &str)] = &[
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
    ];

    #[tokio::test]
    async fn reads_what_lambda_sets() {
        use aws_credential_types::provider::ProvideCredentials as _;
        let sdk = from_lookup(env(LAMBDA)).expect("a configuration");
        assert_eq!(sdk.region().map(Region::as_ref), Some("eu-west-1"));
        assert!(sdk.http_client().is_some());
        assert_eq!(sdk.endpoint_url(), None);
        let credentials = sdk
            .credentials_provider()
            .expect("credentials")
            .provide_credentials()
            .await
            .expect("static credentials");
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.session_token(), Some("token"));
    }

    #[test]
    fn a_missing_region_or_key_is_named() {
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let pairs: Vec<(&str, &str)> = LAMBDA
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let err = from_lookup(env(&pairs)).unwrap_err();
            assert_eq!(err, ConfigError::Missing(missing));
        }
        let pairs: Vec<(&str, &str)> = LAMBDA
            .iter()
            .copied()
            .filter(|(k, _)| *k != "AWS_SESSION_TOKEN")
            .collect();
        assert!(
            from_lookup(env(&pairs)).is_ok(),
            "long-term keys have no session token"
        );
    }

    #[test]
    fn endpoint_overrides_follow_the_sdk_rules() {
        let lookup = env(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:2"),
        ]);
        assert_eq!(
            endpoint_url(&lookup, Some("DYNAMODB")).as_deref(),
            Some("http://127.0.0.1:2")
        );
        assert_eq!(
            endpoint_url(&lookup, Some("KMS")).as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(
            endpoint_url(&lookup, None).as_deref(),
            Some("http://127.0.0.1:1")
        );
        let ignored = env(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ]);
        assert_eq!(endpoint_url(&ignored, None), None);
    }

    #[test]
    fn the_trust_store_is_the_five_amazon_roots() {
        let blocks = AMAZON_ROOTS_PEM
            .matches("-----BEGIN CERTIFICATE-----")
            .count();
        assert_eq!(blocks, 5);
        // Each block decodes to a certificate (DER SEQUENCE) whose SHA-256
        // is one of the published fingerprints in the file's header.
        use base64::Engine as _;
        let mut seen = 0;
        for block in AMAZON_ROOTS_PEM
            .split("-----BEGIN CERTIFICATE-----")
            .skip(1)
        {
            let body: String = block
                .split("-----END CERTIFICATE-----")
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .expect("base64");
            assert_eq!(der[0], 0x30, "a DER SEQUENCE");
            let fingerprint: Vec<String> = ring::digest::digest(&ring::digest::SHA256, &der)
                .as_ref()
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect();
            assert!(
                AMAZON_ROOTS_PEM.contains(&fingerprint.join(":")),
                "unlisted certificate"
            );
            seen += 1;
        }
        assert_eq!(seen, 5);
    }
}
