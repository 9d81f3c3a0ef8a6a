//! Tokens of another issuer, end to end: a gateway started with
//! `token_issuers` pointing at a JWKS server on 127.0.0.1 accepts a
//! Cognito-style access token (RS256, `client_id`, `token_use`) on
//! `$connect` (as the `token.<JWT>` subprotocol) and in `subscribe`, with
//! the grants its templates give, beside its own tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use channels::token::issuers::parse_issuers;
use local_gateway::SubscriberAuthMode;
use serde_json::{json, Value};
use support::issuer::{access_token, jwks_server, key, token_issuers, CLIENT_ID, ISSUER, KID, SUB};
use support::{start, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_token_connects_and_subscribes_with_its_templates() {
    // GIVEN a user pool's key set on 127.0.0.1, and a gateway that accepts
    // its access tokens, each granting the user's own channels
    let key = key();
    let jwks_url = jwks_server(&key).await;
    let issuers = parse_issuers(&token_issuers(&jwks_url)).unwrap();
    let mut env = start(Backend::Memory, |b| {
        b.subscriber_auth(SubscriberAuthMode::Token)
            .token_issuers(issuers)
    })
    .await;
    let token = access_token(&key, KID);
    let inbox = format!("user:{SUB}:inbox");

    // WHEN the user connects with it as the subprotocol, to their inbox
    let mut client = env.connect_v1(Some(&inbox), Some(&token)).await;

    // THEN their channels are granted, others are not
    let reply = client
        .call(json!({"action": "subscribe", "channel": format!("user:{SUB}:alerts")}))
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    let reply = client
        .call(json!({"action": "subscribe", "channel": "user:someone-else:inbox"}))
        .await;
    assert_eq!(reply["code"], 403, "{reply}");
    // AND a fresh token of the same user in a subscribe is taken
    let reply = client
        .call(json!({"action": "subscribe", "channel": format!("user:{SUB}:news"), "token": access_token(&key, KID)}))
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    // AND they may publish to their channels, their sub stamped as from
    let reply = client
        .call(json!({"action": "publish", "channel": inbox, "data": "note", "self": true}))
        .await;
    assert_eq!(reply["type"], "published", "{reply}");
    let own: Value = client.next().await;
    assert_eq!(
        (own["data"].clone(), own["from"].clone()),
        (json!("note"), json!(SUB))
    );

    // AND a token with a kid the issuer never published is refused (401)
    let stranger = access_token(&key, "not-a-published-kid");
    let err = env
        .handshake_v1(Some(&inbox), Some(&stranger))
        .await
        .expect_err("refused");
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        panic!("expected an HTTP refusal, got {err:?}");
    };
    assert_eq!(response.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_key_set_needs_the_aws_build() {
    let issuers = parse_issuers(
        &json!([{
            "issuer": ISSUER, "jwks_url": format!("{ISSUER}/.well-known/jwks.json"),
            "client_id": CLIENT_ID, "channels": ["user:{sub}:*"]
        }])
        .to_string(),
    )
    .unwrap();
    let started = local_gateway::Gateway::builder()
        .subscriber_auth(SubscriberAuthMode::Token)
        .token_issuers(issuers)
        .bind("127.0.0.1:0")
        .await;
    if cfg!(feature = "aws") {
        assert!(started.is_ok(), "the aws build fetches over HTTPS");
    } else {
        let err = started.expect_err("refused at start").to_string();
        assert!(err.contains("aws"), "{err}");
    }
}
