//! `POST /tokens` and `GET /.well-known/jwks.json`.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use channels::token::{mint, Jwks, MintRequest, Minter, SignError, TokenSigner, Verifier};
use http::HeaderValue;
use tracing::{error, info};

use crate::request::body;
use crate::respond::{error_response, json_response, json_text};

/// What the token routes need.
#[derive(Debug)]
pub struct Tokens<K> {
    pub signer: K,
    pub minter: Minter,
    /// The JWKS document, written once.
    jwks: String,
}

impl<K> Tokens<K> {
    /// `signer` signs with the private half of `minter.key`; `verifier`
    /// holds every key tokens may be verified with (the JWKS).
    pub fn new(signer: K, minter: Minter, verifier: &Verifier) -> Self {
        let jwks = serde_json::to_string(&Jwks::new(verifier.keys())).unwrap_or_default();
        Self {
            signer,
            minter,
            jwks,
        }
    }
}

/// `POST /tokens`: validates the request, signs, answers
/// `{"token","expiresAt","channels","publish"?}`. The token itself is never
/// logged.
pub(crate) async fn mint_token<K: TokenSigner>(
    request: &ApiGatewayV2httpRequest,
    tokens: &Tokens<K>,
) -> ApiGatewayV2httpResponse {
    let body = match body(request) {
        Ok(body) => body,
        Err(rejection) => return rejection.response(),
    };
    let mint_request = match MintRequest::parse(&body, tokens.minter.max_ttl_secs) {
        Ok(valid) => valid,
        Err(err) => return error_response(400, &err.to_string()),
    };
    let subject = mint_request.subject.clone().unwrap_or_default();
    let now = channels::now_millis() / 1000;
    match mint(&tokens.signer, &tokens.minter, mint_request, now).await {
        Ok(minted) => {
            info!(
                channels = ?minted.channels,
                publish = ?minted.publish,
                expires_at = minted.expires_at,
                subject = %subject,
                kid = tokens.minter.key.kid(),
                "token minted"
            );
            json_response(200, &minted)
        }
        Err(err @ SignError::Unavailable(_)) => {
            error!(error = %err, "could not sign a token");
            error_response(503, "the token signer is unavailable; try again")
        }
        Err(err @ SignError::KeyMismatch { .. }) => {
            error!(error = %err, "could not sign a token");
            error_response(500, "the token signer is misconfigured")
        }
    }
}

/// `GET /.well-known/jwks.json`.
pub(crate) fn jwks_response<K>(tokens: &Tokens<K>) -> ApiGatewayV2httpResponse {
    let mut response = json_text(200, tokens.jwks.clone());
    // Keys change only with a deployment; let verifiers cache them a while.
    response.headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

pub(crate) fn tokens_off() -> ApiGatewayV2httpResponse {
    error_response(
        404,
        "subscriber tokens are off in this deployment (SUBSCRIBER_AUTH=none): anyone may connect",
    )
}
