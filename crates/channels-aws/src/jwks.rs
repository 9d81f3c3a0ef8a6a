//! [`HttpsJwksFetcher`]: the `JwksFetcher` of the Lambda functions, which
//! fetches identity providers' JWKS documents over HTTPS.
//!
//! It is the HTTPS client the SDK clients already use
//! (`aws-smithy-http-client`: hyper, rustls with `ring`), built on the first
//! fetch — never at init — with its own trust store:
//!
//! - the five **Amazon Trust Services roots** ([`AMAZON_ROOTS_PEM`]), which
//!   cover Cognito (`cognito-idp.{region}.amazonaws.com`);
//! - and the **system's roots**, read on that first fetch: Auth0 tenants
//!   present Let's Encrypt (ISRG Root X1) or Google Trust Services chains,
//!   and a generic OIDC provider any public CA's, none of which the Amazon
//!   roots cover. On Lambda's `provided.al2023` they are the
//!   `ca-certificates` bundle of the image (Mozilla's list, updated with the
//!   runtime); `SSL_CERT_FILE` / `SSL_CERT_DIR` point elsewhere (for a
//!   private CA, a bundle shipped in the package). Read once per execution
//!   environment, a few milliseconds, on the first `$connect` that needs an
//!   issuer's keys.
//!
//! `http://` URLs go to [`LoopbackFetcher`] (127.0.0.1, localhost and `[::1]`
//! only), so one fetcher serves the deployed functions and the local
//! gateway alike. Redirects are not followed; the answer must be a 200 of at
//! most [`MAX_JWKS_BYTES`]. The caller (`channels::token::jwks`) applies the
//! timeout.

use std::sync::OnceLock;

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::http::HttpConnector as _;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;
use channels::token::jwks::{FetchError, JwksFetcher, MAX_JWKS_BYTES};
use channels::token::loopback::LoopbackFetcher;

use crate::sdk::AMAZON_ROOTS_PEM;

/// Fetches JWKS documents: `https://` with the Amazon and system roots,
/// `http://` on loopback addresses only.
#[derive(Debug)]
pub struct HttpsJwksFetcher {
    trust: Trust,
    connector: OnceLock<Connector>,
}

#[derive(Debug, Clone)]
enum Trust {
    /// The Amazon roots and the system's.
    AmazonAndSystem,
    /// These PEM roots only (tests).
    #[cfg(test)]
    Only(&'static str),
}

impl Default for HttpsJwksFetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpsJwksFetcher {
    /// Builds nothing and reads nothing: the HTTPS client and its trust
    /// store come with the first `https://` fetch.
    pub fn new() -> Self {
        Self {
            trust: Trust::AmazonAndSystem,
            connector: OnceLock::new(),
        }
    }

    /// A fetcher that trusts `pem` alone.
    #[cfg(test)]
    fn trusting(pem: &'static str) -> Self {
        Self {
            trust: Trust::Only(pem),
            connector: OnceLock::new(),
        }
    }

    /// Whether the HTTPS client has been built (by a first `https://` fetch).
    pub fn is_built(&self) -> bool {
        self.connector.get().is_some()
    }

    fn connector(&self) -> &Connector {
        self.connector.get_or_init(|| {
            let trust = match self.trust {
                Trust::AmazonAndSystem => TrustStore::empty()
                    .with_native_roots(true)
                    .with_pem_certificate(AMAZON_ROOTS_PEM.as_bytes()),
                #[cfg(test)]
                Trust::Only(pem) => TrustStore::empty().with_pem_certificate(pem.as_bytes()),
            };
            let context = TlsContext::builder()
                .with_trust_store(trust)
                .build()
                // Only a trust store is set: nothing to fail.
                .unwrap_or_default();
            Connector::builder()
                .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                .tls_context(context)
                .build()
        })
    }

    async fn fetch_https(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let mut request =
            HttpRequest::get(url).map_err(|_| FetchError::Url("not a valid https URL"))?;
        request
            .headers_mut()
            .insert("accept", "application/json, application/jwk-set+json");
        request
            .headers_mut()
            .insert("user-agent", "lambda-rust-websocket");
        let response = self
            .connector()
            .call(request)
            .await
            .map_err(|e| FetchError::Connect(DisplayErrorContext(&e).to_string()))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(FetchError::Status(status));
        }
        let declared = response
            .headers()
            .get("content-length")
            .and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|n| n > MAX_JWKS_BYTES) {
            return Err(FetchError::TooLarge);
        }
        let mut body = ByteStream::new(response.into_body());
        let mut out = Vec::with_capacity(declared.unwrap_or(4096));
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| FetchError::Io(DisplayErrorContext(&e).to_string()))?;
            if out.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

impl JwksFetcher for HttpsJwksFetcher {
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let scheme = url
            .get(..8)
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if scheme.starts_with("https://") {
            self.fetch_https(url).await
        } else if scheme.starts_with("http://") {
            LoopbackFetcher.fetch(url).await
        } else {
            Err(FetchError::Url("neither https:// nor http://"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use channels::testing::issuer::read_request_head;
    use std::net::SocketAddr;
    use std::sync::Arc;
    use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    const CA: &str = include_str!("../tests/data/test-only-jwks-ca.pem");
    const SERVER_CERT: &str = include_str!("../tests/data/test-only-jwks-server.pem");
    const SERVER_KEY: &str = include_str!("../tests/data/test-only-jwks-server.key.pem");
    const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"AA","y":"AA"}]}"#;

    /// `fetcher.fetch(url)`, failing the test instead of hanging it (the
    /// verifier applies the real timeout).
    async fn fetch(fetcher: &HttpsJwksFetcher, url: &str) -> Result<Vec<u8>, FetchError> {
        tokio::time::timeout(std::time::Duration::from_secs(20), fetcher.fetch(url))
            .await
            .expect("a fetch that ends")
    }

    /// Answers by path: `/jwks` the document, `/big` an oversized one
    /// (chunked when `/big-chunked`), anything else 404.
    async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
        let Some(request) = read_request_head(&mut stream).await else {
            return;
        };
        let text = String::from_utf8_lossy(&request).into_owned();
        let path = text.split(' ').nth(1).unwrap_or("");
        let answer = match path {
            "/jwks" => format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{JWKS}",
                JWKS.len()
            ),
            "/big" => format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                MAX_JWKS_BYTES + 1
            ),
            "/big-chunked" => {
                let chunk = "x".repeat(64 * 1024);
                let mut out =
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned();
                for _ in 0..3 {
                    out.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
                }
                out.push_str("0\r\n\r\n");
                out
            }
            _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned(),
        };
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    }

    /// An HTTPS server on 127.0.0.1 with the test-only certificate; it
    /// stops with the test's runtime.
    async fn https_server() -> SocketAddr {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = vec![CertificateDer::from_pem_slice(SERVER_CERT.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        answer(tls).await;
                    }
                });
            }
        });
        addr
    }

    /// The same answers in plain HTTP.
    async fn http_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream));
            }
        });
        addr
    }

    #[tokio::test]
    async fn https_jwks_are_fetched_through_a_client_built_on_the_first_fetch() {
        let addr = https_server().await;
        let fetcher = HttpsJwksFetcher::trusting(CA);
        assert!(!fetcher.is_built());
        let body = fetch(&fetcher, &format!("https://{addr}/jwks"))
            .await
            .unwrap();
        assert_eq!(body, JWKS.as_bytes());
        assert!(fetcher.is_built());
        assert_eq!(
            fetch(&fetcher, &format!("https://{addr}/nope")).await,
            Err(FetchError::Status(404))
        );
        assert_eq!(
            fetch(&fetcher, &format!("https://{addr}/big")).await,
            Err(FetchError::TooLarge)
        );
        assert_eq!(
            fetch(&fetcher, &format!("https://{addr}/big-chunked")).await,
            Err(FetchError::TooLarge)
        );
    }

    #[tokio::test]
    async fn a_certificate_outside_the_trust_store_is_refused() {
        // GIVEN a server whose chain ends at a CA the fetcher does not trust
        let addr = https_server().await;
        let fetcher = HttpsJwksFetcher::trusting(AMAZON_ROOTS_PEM);
        let error = fetch(&fetcher, &format!("https://{addr}/jwks"))
            .await
            .unwrap_err();
        assert!(matches!(error, FetchError::Connect(_)), "{error}");
        // AND a server that answers plain HTTP to the TLS handshake is an
        // error, not a hang
        let plain = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    let _ = stream
                        .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    let _ = stream.shutdown().await;
                }
            });
            addr
        };
        let error = fetch(
            &HttpsJwksFetcher::trusting(CA),
            &format!("https://{plain}/jwks"),
        )
        .await
        .unwrap_err();
        assert!(matches!(error, FetchError::Connect(_)), "{error}");
    }

    #[tokio::test]
    async fn http_goes_to_loopback_only_and_builds_no_https_client() {
        let addr = http_server().await;
        let fetcher = HttpsJwksFetcher::new();
        let body = fetch(&fetcher, &format!("http://{addr}/jwks"))
            .await
            .unwrap();
        assert_eq!(body, JWKS.as_bytes());
        assert!(!fetcher.is_built(), "no HTTPS client, no roots read");
        for (url, expected) in [
            ("http://example.com/jwks", "plain http is for"),
            ("ftp://127.0.0.1/jwks", "neither https:// nor http://"),
            ("jwks", "neither https:// nor http://"),
        ] {
            let error = fetch(&fetcher, url).await.unwrap_err();
            assert!(error.to_string().contains(expected), "{url}: {error}");
        }
        assert!(!fetcher.is_built());
        assert!(matches!(
            fetch(&fetcher, "https://exa mple.com/").await,
            Err(FetchError::Url(_))
        ));
    }
}
