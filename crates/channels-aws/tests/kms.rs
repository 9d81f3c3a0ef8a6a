//! The KMS token signer through the real `aws-sdk-kms` client, against a
//! moto_server that signs with `ECC_NIST_P256` / `ECDSA_SHA_256` and serves
//! `GetPublicKey` (ignored by plain `cargo test`; `make test` runs it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use channels::token::{mint, MintRequest, Minter, TokenError, Verifier};
use channels::ChannelName;
use channels_aws::kms::KmsSigner;
use channels_aws::testing::MotoServer;

const AUD: &str = "wss://abc.execute-api.us-east-1.amazonaws.com/staging";
const ISS: &str = "https://xyz.execute-api.us-east-1.amazonaws.com/staging";

async fn new_key(client: &aws_sdk_kms::Client) -> String {
    client
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .expect("CreateKey")
        .key_metadata()
        .expect("key metadata")
        .key_id()
        .to_owned()
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn a_token_minted_through_kms_verifies_with_the_key_kms_publishes() {
    // GIVEN two P-256 signing keys in KMS
    let moto = MotoServer::start().expect("moto_server (run `make setup`, or set MOTO_SERVER)");
    let client = moto.kms_client();
    let signer = KmsSigner::new(client.clone(), new_key(&client).await);
    let other = KmsSigner::new(client.clone(), new_key(&client).await);
    let public = signer.public_key().await.expect("GetPublicKey");
    let other_public = other.public_key().await.expect("GetPublicKey");
    assert_ne!(public.kid(), other_public.kid());

    // WHEN a token is minted through KMS (the minter checks the signature
    // against `public` before handing the token out)
    let minter = Minter {
        key: public.clone(),
        audience: AUD.into(),
        issuer: ISS.into(),
        max_ttl_secs: 3600,
    };
    let request =
        MintRequest::parse(br#"{"channels":["lobby"],"subject":"user-42"}"#, 3600).unwrap();
    let now = channels::now_millis() / 1000;
    let minted = mint(&signer, &minter, request.clone(), now)
        .await
        .expect("KMS signs, and the signature verifies");

    // THEN it verifies with the public key KMS returns
    let lobby = ChannelName::parse("lobby").unwrap();
    let verifier = Verifier::new(vec![public.clone()], AUD, ISS);
    let claims = verifier
        .authorize(Some(&minted.token), &lobby, now)
        .unwrap();
    assert_eq!(claims.sub.as_deref(), Some("user-42"));

    // AND not with the other key, even when that key's kid is put on it
    let wrong = Verifier::new(vec![other_public.clone()], AUD, ISS);
    assert_eq!(
        wrong.authorize(Some(&minted.token), &lobby, now),
        Err(TokenError::UnknownKey)
    );
    let (_, rest) = minted.token.split_once('.').unwrap();
    let relabelled = format!(
        "{}.{rest}",
        base64_url(&format!(
            r#"{{"alg":"ES256","typ":"JWT","kid":"{}"}}"#,
            other_public.kid()
        ))
    );
    assert_eq!(
        wrong.authorize(Some(&relabelled), &lobby, now),
        Err(TokenError::BadSignature)
    );

    // AND a token signed by the other key does not pass as this key's
    let err = mint(&other, &minter, request, now).await.unwrap_err();
    assert!(err.to_string().contains(public.kid()), "{err}");
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn an_unknown_key_is_a_signer_error_not_a_panic() {
    let moto = MotoServer::start().expect("moto_server");
    let signer = KmsSigner::new(moto.kms_client(), "alias/does-not-exist");
    let minter = Minter {
        key: channels::token::LocalSigner::generate()
            .unwrap()
            .public_key()
            .clone(),
        audience: AUD.into(),
        issuer: ISS.into(),
        max_ttl_secs: 60,
    };
    let request = MintRequest::parse(br#"{"channels":["lobby"]}"#, 60).unwrap();
    let err = mint(&signer, &minter, request, 0).await.unwrap_err();
    assert!(err.to_string().starts_with("token signer: Sign"), "{err}");
}

fn base64_url(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
