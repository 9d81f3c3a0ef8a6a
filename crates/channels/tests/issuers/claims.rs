//! The claims of issuer tokens, and malformed tokens.

use super::*;

#[tokio::test]
async fn each_claim_check_refuses_what_it_should() {
    let (_server, keys, issuers) = deployment().await;
    let auth0 = |claims: Value| keys.auth0.token(&claims);
    let id = |claims: Value| keys.cognito_id.token(&claims);
    let access = |claims: Value| keys.cognito_access.token(&claims);
    let a = auth0_claims;

    let cases: Vec<(&str, String, Result<(), IssuerError>)> = vec![
        ("valid", auth0(a()), Ok(())),
        (
            "expired within the leeway",
            auth0(with(
                with(a(), "exp", json!(NOW - 30)),
                "iat",
                json!(NOW - 3600),
            )),
            Ok(()),
        ),
        (
            "expired",
            auth0(with(
                with(a(), "exp", json!(NOW - 61)),
                "iat",
                json!(NOW - 3600),
            )),
            Err(IssuerError::Expired(NOW - 61)),
        ),
        (
            "no exp",
            auth0(without(a(), "exp")),
            Err(IssuerError::Claim("exp")),
        ),
        (
            "exp not a number",
            auth0(with(a(), "exp", json!("soon"))),
            Err(IssuerError::Claim("exp")),
        ),
        (
            "fractional dates",
            auth0(with(
                with(a(), "exp", json!(NOW as f64 + 600.5)),
                "iat",
                json!(NOW as f64 - 0.25),
            )),
            Ok(()),
        ),
        (
            "nbf in the future",
            auth0(with(a(), "nbf", json!(NOW + 120))),
            Err(IssuerError::NotYetValid(NOW + 120)),
        ),
        (
            "nbf within the leeway",
            auth0(with(a(), "nbf", json!(NOW + 30))),
            Ok(()),
        ),
        (
            "no iat",
            auth0(without(a(), "iat")),
            Err(IssuerError::MissingIssuedAt),
        ),
        (
            "iat in the future",
            auth0(with(a(), "iat", json!(NOW + 120))),
            Err(IssuerError::NotYetValid(NOW + 120)),
        ),
        (
            "lifetime at the cap",
            auth0(with(a(), "exp", json!(NOW - 10 + 86_400))),
            Ok(()),
        ),
        (
            "lifetime over the cap",
            auth0(with(a(), "exp", json!(NOW - 10 + 86_401))),
            Err(IssuerError::Lifetime {
                lifetime: 86_401,
                max: 86_400,
            }),
        ),
        (
            "wrong audience",
            auth0(with(a(), "aud", json!("https://other.example.com"))),
            Err(IssuerError::Audience),
        ),
        (
            "no audience",
            auth0(without(a(), "aud")),
            Err(IssuerError::Audience),
        ),
        (
            "unconfigured issuer",
            auth0(with(a(), "iss", json!("https://evil.example.com/"))),
            Err(IssuerError::UnknownIssuer),
        ),
        (
            "issuer differing by a slash",
            auth0(with(
                a(),
                "iss",
                json!("https://example-tenant.eu.auth0.com"),
            )),
            Err(IssuerError::UnknownIssuer),
        ),
        (
            "no issuer",
            auth0(without(a(), "iss")),
            Err(IssuerError::UnknownIssuer),
        ),
        (
            "grants claim of the wrong type",
            auth0(with(
                a(),
                "https://channels.example.com/channels",
                json!({"a":1}),
            )),
            Err(IssuerError::Claim("channel patterns")),
        ),
        (
            "grants claim with a number",
            auth0(with(
                a(),
                "https://channels.example.com/channels",
                json!(["a", 1]),
            )),
            Err(IssuerError::Claim("channel patterns")),
        ),
        (
            "too many grants",
            auth0(with(
                a(),
                "https://channels.example.com/channels",
                json!((0..101).map(|i| format!("c{i}")).collect::<Vec<_>>()),
            )),
            Err(IssuerError::Claim("channel patterns (more than 100)")),
        ),
        (
            "sub not a string",
            auth0(with(a(), "sub", json!(42))),
            Err(IssuerError::Claim("sub")),
        ),
        // Cognito: an ID token needs aud = the client and token_use id; an
        // access token needs client_id and token_use access.
        ("cognito id token", id(cognito_id_claims()), Ok(())),
        (
            "cognito id token, wrong token_use",
            id(with(cognito_id_claims(), "token_use", json!("access"))),
            Err(IssuerError::TokenUse),
        ),
        (
            "cognito id token, other client",
            id(with(cognito_id_claims(), "aud", json!("another-client"))),
            Err(IssuerError::Audience),
        ),
        (
            "cognito access token",
            access(cognito_access_claims()),
            Ok(()),
        ),
        (
            "cognito access token, other client",
            access(with(
                cognito_access_claims(),
                "client_id",
                json!("another-client"),
            )),
            Err(IssuerError::Audience),
        ),
        (
            "cognito access token, token_use id",
            access(with(cognito_access_claims(), "token_use", json!("id"))),
            Err(IssuerError::TokenUse),
        ),
        (
            "cognito access token, no token_use",
            access(without(cognito_access_claims(), "token_use")),
            Err(IssuerError::TokenUse),
        ),
        // Templates need a sub of channel characters: fail closed otherwise.
        (
            "template with a sub holding |",
            access(with(cognito_access_claims(), "sub", json!("google|123"))),
            Err(IssuerError::Subject),
        ),
        (
            "template without sub",
            access(without(cognito_access_claims(), "sub")),
            Err(IssuerError::Subject),
        ),
        (
            "template with a sub holding *",
            access(with(cognito_access_claims(), "sub", json!("*"))),
            Err(IssuerError::Subject),
        ),
        (
            "template with a sub over 128 bytes",
            access(with(cognito_access_claims(), "sub", json!("a".repeat(129)))),
            Err(IssuerError::Subject),
        ),
    ];
    for (name, token, expected) in cases {
        let got = issuers.verify(&token, NOW).await.map(|_| ());
        assert_eq!(got, expected, "{name}");
        if let Err(error) = got {
            assert_eq!(
                (error.status(), error.category()),
                (401, "Unauthorized"),
                "{name}"
            );
            assert!(!error.to_string().contains(&token), "{name}");
        }
    }
}

#[tokio::test]
async fn malformed_tokens_are_refused_before_any_fetch() {
    let (server, keys, issuers) = deployment().await;
    let valid = keys.auth0.token(&auth0_claims());
    let (head, signature) = valid.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(signature).unwrap();
    sig[7] ^= 1;
    let tampered = format!("{head}.{}", b64(&sig));
    let cases: Vec<(String, IssuerError)> = vec![
        (String::new(), IssuerError::Missing),
        (
            "a.b".into(),
            IssuerError::Malformed("not three base64url parts"),
        ),
        (
            "a.b.c.d".into(),
            IssuerError::Malformed("not three base64url parts"),
        ),
        (
            "x".repeat(16 * 1024 + 1),
            IssuerError::Malformed("longer than 16 KiB"),
        ),
        (
            keys.auth0.sign(&json!({"alg":"RS256"}), &auth0_claims()),
            IssuerError::Malformed("no kid"),
        ),
        (
            keys.auth0.sign(
                &json!({"alg":"RS256","kid":keys.auth0.kid,"crit":["exp"]}),
                &auth0_claims(),
            ),
            IssuerError::Malformed("critical header extensions"),
        ),
        (
            keys.auth0.sign(
                &json!({"alg":"RS256","kid":keys.auth0.kid,"typ":"JOSE+JSON"}),
                &auth0_claims(),
            ),
            IssuerError::Malformed("typ is neither JWT nor at+jwt"),
        ),
        (
            format!("{head}.%%%"),
            IssuerError::Malformed("signature is not base64url"),
        ),
    ];
    for (token, expected) in cases {
        assert_eq!(issuers.verify(&token, NOW).await, Err(expected));
    }
    assert_eq!(server.hits("/auth0/.well-known/jwks.json"), 0);
    // RFC 9068 access tokens are welcome.
    let at_jwt = keys.auth0.sign(
        &json!({"alg":"RS256","kid":keys.auth0.kid,"typ":"at+jwt"}),
        &auth0_claims(),
    );
    issuers.verify(&at_jwt, NOW).await.unwrap();
    assert_eq!(
        issuers.verify(&tampered, NOW).await,
        Err(IssuerError::BadSignature)
    );
}
