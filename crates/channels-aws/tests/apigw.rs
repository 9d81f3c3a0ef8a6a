//! The API Gateway Management adapter with the real SDK client against a
//! small HTTP server on 127.0.0.1 that answers like `@connections` does.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use channels::fanout::{Publish, Published};
use channels::memory::MemoryStore;
use channels::message::Publication;
use channels::{
    ChannelName, Connection, ConnectionNotifier, Fanout, NotifyError, PublishOptions,
    PublishReport, Store,
};
use channels_aws::apigw::ApiGatewayNotifier;

/// What the server saw: connection id -> bodies posted, in order.
type Seen = Arc<Mutex<HashMap<String, Vec<Vec<u8>>>>>;

fn aws_error(status: StatusCode, error_type: &'static str) -> Response {
    (
        status,
        [("x-amzn-ErrorType", error_type)],
        r#"{"message":null}"#,
    )
        .into_response()
}

/// Answers by connection id: `ok*` 200, `gone*` 410, `throttled*` 429,
/// `broken*` 500, `big*` 413, `forbidden*` 403, `flaky*` 429 on the first
/// try and 200 after.
async fn post_to_connection(
    State(seen): State<Seen>,
    Path((stage, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    assert_eq!(stage, "staging");
    // `sig*`: 200 only when the SigV4 signature holds for the body received.
    if id.starts_with("sig") {
        let uri = format!(
            "http://{}/staging/@connections/{id}",
            header(&headers, "host")
        );
        return if signature_holds(&uri, &headers, &body) {
            StatusCode::OK.into_response()
        } else {
            aws_error(StatusCode::FORBIDDEN, "InvalidSignatureException")
        };
    }
    let tries = {
        let mut seen = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bodies = seen.entry(id.clone()).or_default();
        bodies.push(body.to_vec());
        bodies.len()
    };
    match id.as_str() {
        s if s.starts_with("ok") => StatusCode::OK.into_response(),
        s if s.starts_with("gone") => aws_error(StatusCode::GONE, "GoneException"),
        s if s.starts_with("throttled") => {
            aws_error(StatusCode::TOO_MANY_REQUESTS, "LimitExceededException")
        }
        s if s.starts_with("broken") => (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
        s if s.starts_with("big") => {
            aws_error(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLargeException")
        }
        s if s.starts_with("forbidden") => aws_error(StatusCode::FORBIDDEN, "ForbiddenException"),
        s if s.starts_with("flaky") && tries == 1 => {
            aws_error(StatusCode::TOO_MANY_REQUESTS, "LimitExceededException")
        }
        s if s.starts_with("flaky") => StatusCode::OK.into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Signs the request again with aws-sigv4, over the body as received, the
/// headers it says it signed and its own x-amz-date, with the credentials of
/// `channels_aws::testing::sdk_config`, and compares the signatures.
fn signature_holds(uri: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;
    let authorization = header(headers, "authorization");
    let field = |name: &str| {
        authorization
            .split([',', ' '])
            .find_map(|part| part.trim().strip_prefix(name))
            .unwrap_or("")
            .to_owned()
    };
    let (signed_headers, signature) = (field("SignedHeaders="), field("Signature="));
    // 20261122T123456Z -> 2026-11-22T12:34:56Z
    let d = header(headers, "x-amz-date");
    if d.len() != 16 {
        return false;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &d[0..4],
        &d[4..6],
        &d[6..8],
        &d[9..11],
        &d[11..13],
        &d[13..15]
    );
    let Ok(time) = aws_smithy_types::DateTime::from_str(
        &rfc3339,
        aws_smithy_types::date_time::Format::DateTime,
    ) else {
        return false;
    };
    let identity =
        aws_credential_types::Credentials::new("testing", "testing", None, None, "test").into();
    let Ok(params) = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("execute-api")
        .time(std::time::SystemTime::try_from(time).unwrap())
        .settings(SigningSettings::default())
        .build()
    else {
        return false;
    };
    let signed: Vec<(&str, &str)> = signed_headers
        .split(';')
        .map(|name| (name, header(headers, name)))
        .collect();
    let Ok(request) =
        SignableRequest::new("POST", uri, signed.into_iter(), SignableBody::Bytes(body))
    else {
        return false;
    };
    match sign(request, &params.into()) {
        Ok(output) => output.signature() == signature,
        Err(_) => false,
    }
}

struct Server {
    seen: Seen,
    endpoint: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn server() -> Server {
    let seen = Seen::default();
    let app = Router::new()
        .route("/{stage}/@connections/{id}", post(post_to_connection))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server {
        seen,
        endpoint: format!("http://{addr}/staging"),
        task,
    }
}

fn notifier(endpoint: &str) -> ApiGatewayNotifier {
    let sdk = channels_aws::testing::sdk_config();
    ApiGatewayNotifier::from_conf(&sdk, endpoint)
}

#[tokio::test]
async fn each_answer_maps_to_its_outcome() {
    let server = server().await;
    let notifier = notifier(&server.endpoint);
    let cases: [(&str, Result<(), NotifyError>); 5] = [
        ("ok-1", Ok(())),
        ("gone-1", Err(NotifyError::Gone)),
        ("throttled-1", Err(NotifyError::Throttled)),
        ("big-1", Err(NotifyError::PayloadTooLarge)),
        ("forbidden-1", Err(NotifyError::Forbidden)),
    ];
    for (id, expected) in cases {
        assert_eq!(notifier.post(id, b"payload").await, expected, "{id}");
    }
    let broken = notifier.post("broken-1", b"payload").await;
    assert!(
        matches!(broken, Err(NotifyError::Unavailable(_))),
        "{broken:?}"
    );
    assert!(broken.is_err_and(|e| e.is_retryable()));

    // The SDK itself does not retry: the fan-out owns retries.
    let seen = server
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    assert_eq!(seen["throttled-1"].len(), 1);
    assert_eq!(seen["broken-1"].len(), 1);
    assert_eq!(seen["ok-1"], vec![b"payload".to_vec()]);
}

#[tokio::test]
async fn connection_ids_with_reserved_characters_reach_the_right_path() {
    let server = server().await;
    let notifier = notifier(&server.endpoint);
    // API Gateway ids end in '=' (base64); the SDK percent-encodes them.
    assert_eq!(notifier.post("ok+/L0SM9cOFvHcCIhw=", b"x").await, Ok(()));
    let seen = server
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    assert!(
        seen.contains_key("ok+/L0SM9cOFvHcCIhw="),
        "{:?}",
        seen.keys()
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_retryable() {
    // A socket bound but not listening: connecting to its port is refused at
    // once, and the port stays ours until the end of the test (no other test
    // can be given it meanwhile, as a port released and reused could be).
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind("127.0.0.1:0".parse().expect("an address"))
        .expect("bind 127.0.0.1:0");
    let addr = socket.local_addr().expect("local addr");
    let notifier = notifier(&format!("http://{addr}/staging"));
    let result = notifier.post("ok-1", b"x").await;
    assert!(
        matches!(result, Err(NotifyError::Unavailable(_))),
        "{result:?}"
    );
    drop(socket);
}

#[tokio::test]
async fn an_endpoint_that_hangs_up_without_answering_is_retryable() {
    // Reachable, but every connection is closed before any answer.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let hang_up = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            drop(stream);
        }
    });
    let notifier = notifier(&format!("http://{addr}/staging"));
    let result = notifier.post("ok-1", b"x").await;
    hang_up.abort();
    assert!(
        matches!(result, Err(NotifyError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_publish_through_the_sdk_counts_every_outcome() {
    // GIVEN a channel with one member of each behaviour
    let server = server().await;
    let notifier = notifier(&server.endpoint);
    let store = MemoryStore::new();
    let room = ChannelName::parse("room").expect("channel");
    for id in [
        "ok-a",
        "ok-b",
        "gone-a",
        "flaky-a",
        "throttled-a",
        "broken-a",
        "big-a",
    ] {
        // Connected before the grace a connection still in its `$connect`
        // gets, so that a 410 removes it.
        let connected_at = channels::now_millis() - channels::fanout::CONNECTING_GRACE_MS - 1000;
        store
            .connect(&Connection::new(id, connected_at), Some(&room))
            .await
            .expect("connect");
    }
    let options = PublishOptions {
        max_attempts: 3,
        backoff_base: Duration::from_millis(1),
        backoff_cap: Duration::from_millis(5),
        ..PublishOptions::default()
    };

    // WHEN publishing
    let fanout = Fanout::<_, _>::new(&store, &notifier, options);
    let publish = Publish {
        publication: Publication::http(room.clone(), b"news".to_vec(), false),
        exclude: None,
        key: None,
        publish_id: "p-1".into(),
    };
    let Ok(Published::Sync { report, .. }) = fanout.publish(publish).await else {
        panic!("a synchronous publish");
    };

    // THEN delivered: ok-a, ok-b, flaky-a (on retry); gone: gone-a (removed);
    // failed: throttled-a and broken-a after 3 tries, big-a at once
    assert_eq!(
        report,
        PublishReport {
            channel: "room".into(),
            recipients: 7,
            delivered: 3,
            gone: 1,
            failed: 3
        }
    );
    assert!(store.get("gone-a").is_none());
    let seen = server
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tries = |id: &str| seen.get(id).map_or(0, Vec::len);
    assert_eq!(
        (
            tries("flaky-a"),
            tries("throttled-a"),
            tries("broken-a"),
            tries("big-a"),
            tries("gone-a")
        ),
        (2, 3, 3, 1, 1)
    );
    assert_eq!(seen["ok-a"], vec![b"news".to_vec()]);
}

#[tokio::test]
async fn large_bodies_are_signed_over_their_own_bytes_however_they_alternate() {
    // GIVEN two different 64 KiB messages (large enough for the adapter to
    // hash once and reuse the hash)
    let server = server().await;
    let notifier = notifier(&server.endpoint);
    let a = vec![b'a'; 64 * 1024];
    let mut b = a.clone();
    b[40_000] = b'b';
    // WHEN they are posted in turns, and a small one between
    // THEN the server finds every signature valid for the body it got
    for (id, body) in [
        ("sig-1", &a[..]),
        ("sig-2", &a[..]),
        ("sig-3", &b[..]),
        ("sig-4", &b"small"[..]),
        ("sig-5", &a[..]),
        ("sig-6", &b[..]),
    ] {
        assert_eq!(notifier.post(id, body).await, Ok(()), "{id}");
    }
}
