//! End to end through the local gateway with real WebSocket clients, real
//! HTTP and the real management API client. Every scenario runs twice: on
//! the in-memory store with in-process delivery (`memory::…`), and on the
//! DynamoDB adapter against a moto_server with every publish posted through
//! the real `@connections` client (`moto::…`, ignored by plain `cargo test`;
//! `make test` runs it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use aws_sdk_apigatewaymanagement::operation::delete_connection::DeleteConnectionError;
use aws_sdk_apigatewaymanagement::operation::get_connection::GetConnectionError;
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use channels::{ChannelName, Connection, Store};
use futures::SinkExt as _;
use local_gateway::GatewayEvent;
use serde_json::json;
use support::{
    close, expect_close, recv, recv_text, send, send_fragmented, start, Backend, HeldRequest,
};
use tokio_tungstenite::tungstenite::Message;

support::scenarios!(
    echo_goes_to_the_sender_only,
    publish_reaches_exactly_the_channel_members,
    get_counts_the_members_of_each_channel,
    closing_removes_the_member,
    delete_on_connections_closes_the_socket_and_fires_disconnect,
    management_api_answers_with_aws_errors,
    a_full_connection_buffer_answers_429,
    a_message_over_128_kib_closes_with_1009,
    a_frame_over_32_kib_closes_with_1009,
    a_huge_message_still_ends_with_1009,
    an_invalid_channel_is_refused_with_400,
    a_binary_frame_closes_with_1003_as_on_aws,
    a_member_that_vanished_without_disconnect_is_reported_gone_and_removed,
    idle_timeout_closes_a_silent_connection,
    max_lifetime_closes_a_connection,
    shutdown_closes_every_connection_with_its_disconnect,
    http_api_answers_like_api_gateway,
    a_request_no_route_matches_is_never_a_publish,
    a_post_racing_a_close_is_gone_not_queued_behind_it,
);

async fn echo_goes_to_the_sender_only(backend: Backend) {
    // GIVEN two members of one channel
    let mut env = start(backend, |b| b).await;
    let (mut a, _) = env.connect(Some("room")).await;
    let (mut b, _) = env.connect(Some("room")).await;

    // WHEN a sends a message
    send(&mut a, "hello from a \u{1f980}").await;

    // THEN a gets it back verbatim
    assert_eq!(recv_text(&mut a).await, "hello from a \u{1f980}");
    // AND b got nothing: its own echo is the first thing it receives
    send(&mut b, "b's own").await;
    assert_eq!(recv_text(&mut b).await, "b's own");
}

async fn publish_reaches_exactly_the_channel_members(backend: Backend) {
    // GIVEN two members of alpha, one of beta, one of the default channel
    let mut env = start(backend, |b| b).await;
    let (mut a1, _) = env.connect(Some("alpha")).await;
    let (mut a2, _) = env.connect(Some("alpha")).await;
    let (mut b1, _) = env.connect(Some("beta")).await;
    let (mut d1, _) = env.connect(None).await;

    // WHEN a message is published to alpha
    let (status, report) = env.publish(Some("alpha"), "to alpha").await;

    // THEN both alpha members get it, and the report counts them
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report,
        json!({"channel": "alpha", "offset": 1, "recipients": 2, "delivered": 2, "gone": 0, "failed": 0})
    );
    assert_eq!(recv_text(&mut a1).await, "to alpha");
    assert_eq!(recv_text(&mut a2).await, "to alpha");

    // AND `POST /` (the printed curl line) reaches the default channel only
    let (status, report) = env.publish(None, "message").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["channel"], "default");
    assert_eq!(report["delivered"], 1);
    assert_eq!(recv_text(&mut d1).await, "message");

    // AND beta got nothing: the next message b1 sees is the one for beta
    let (_, report) = env.publish(Some("beta"), "to beta").await;
    assert_eq!(report["delivered"], 1);
    assert_eq!(recv_text(&mut b1).await, "to beta");
    // AND alpha members got nothing more
    send(&mut a1, "a1 again").await;
    assert_eq!(recv_text(&mut a1).await, "a1 again");
}

async fn get_counts_the_members_of_each_channel(backend: Backend) {
    let mut env = start(backend, |b| b).await;
    let (_a1, _) = env.connect(Some("alpha")).await;
    let (_a2, _) = env.connect(Some("alpha")).await;
    let (_b1, _) = env.connect(Some("beta")).await;

    assert_eq!(env.count("alpha").await, 2);
    assert_eq!(env.count("beta").await, 1);
    assert_eq!(env.count("gamma").await, 0);
}

async fn closing_removes_the_member(backend: Backend) {
    // GIVEN two members of alpha
    let mut env = start(backend, |b| b).await;
    let (mut a1, id1) = env.connect(Some("alpha")).await;
    let (mut a2, _) = env.connect(Some("alpha")).await;
    assert_eq!(env.count("alpha").await, 2);

    // WHEN one closes its socket
    close(&mut a1, 1000).await;

    // THEN its $disconnect reports the client's close code
    let (code, _) = env.disconnected(&id1).await;
    assert_eq!(code, 1000);
    // AND it is no longer a member
    assert_eq!(env.count("alpha").await, 1);
    let (_, report) = env.publish(Some("alpha"), "after close").await;
    assert_eq!(report["recipients"], 1);
    assert_eq!(recv_text(&mut a2).await, "after close");
    assert!(!env.gateway.connections().contains(&id1));
}

async fn delete_on_connections_closes_the_socket_and_fires_disconnect(backend: Backend) {
    // GIVEN a member and the SDK's management client
    let mut env = start(backend, |b| b).await;
    let (mut client, id) = env.connect(Some("alpha")).await;
    let management = env.management().await;

    // GetConnection answers the AWS wire form
    let info = management
        .get_connection()
        .connection_id(&id)
        .send()
        .await
        .expect("GetConnection");
    assert!(info.connected_at().is_some());
    assert!(info.last_active_at().is_some());
    let identity = info.identity().expect("identity");
    assert_eq!(identity.source_ip(), Some("127.0.0.1"));
    assert!(identity.user_agent().is_some());

    // PostToConnection reaches the socket
    management
        .post_to_connection()
        .connection_id(&id)
        .data(Blob::new("from the SDK"))
        .send()
        .await
        .expect("PostToConnection");
    assert_eq!(recv_text(&mut client).await, "from the SDK");

    // WHEN the connection is deleted
    management
        .delete_connection()
        .connection_id(&id)
        .send()
        .await
        .expect("DeleteConnection");

    // THEN the socket closes, $disconnect fires, and the member is gone
    let (code, _) = expect_close(&mut client).await;
    assert_eq!(code, 1000);
    let (code, _) = env.disconnected(&id).await;
    assert_eq!(code, 1000);
    assert_eq!(env.count("alpha").await, 0);

    // AND every call on it now answers 410 GoneException
    macro_rules! assert_gone {
        ($request:expr, $gone:path) => {{
            let err = $request.send().await.expect_err("gone");
            assert!(matches!(err.as_service_error(), Some($gone(_))), "{err:?}");
        }};
    }
    assert_gone!(
        management
            .post_to_connection()
            .connection_id(&id)
            .data(Blob::new("late")),
        PostToConnectionError::GoneException
    );
    assert_gone!(
        management.get_connection().connection_id(&id),
        GetConnectionError::GoneException
    );
    assert_gone!(
        management.delete_connection().connection_id(&id),
        DeleteConnectionError::GoneException
    );
}

async fn management_api_answers_with_aws_errors(backend: Backend) {
    let mut env = start(backend, |b| b).await;
    let (mut client, id) = env.connect(Some("alpha")).await;

    // An unknown id: 410 with the error type in x-amzn-ErrorType
    let response = env
        .http
        .post(env.url("/@connections/AAAAAAAAAAAAAAA%3D"))
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 410);
    assert_eq!(response.headers()["x-amzn-errortype"], "GoneException");
    assert!(response.headers().contains_key("x-amzn-requestid"));

    // Over 128 KiB: 413 PayloadTooLargeException, and the socket stays open
    let response = env
        .http
        .post(env.url(&format!("/@connections/{id}")))
        .body(vec![b'x'; 128 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "PayloadTooLargeException"
    );

    // Exactly 128 KiB, binary, posted raw (curl-style): delivered as binary
    let mut payload = vec![0xffu8; 128 * 1024];
    payload[0] = 0xfe;
    let response = env
        .http
        .post(env.url(&format!("/@connections/{id}")))
        .body(payload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(recv(&mut client).await, Message::binary(payload));

    // GET answers the wire form with ISO 8601 times
    let response = env
        .http
        .get(env.url(&format!("/@connections/{id}")))
        .send()
        .await
        .unwrap();
    let (status, body) = support::json(response).await;
    assert_eq!(status, 200);
    let connected_at = body["connectedAt"].as_str().unwrap();
    assert!(
        connected_at.len() == 24 && connected_at.ends_with('Z'),
        "{body}"
    );
    assert!(body["lastActiveAt"].as_str().unwrap() >= connected_at);
    assert_eq!(body["identity"]["sourceIp"], "127.0.0.1");
}

async fn a_full_connection_buffer_answers_429(backend: Backend) {
    // GIVEN a client that never reads, and room for one queued message
    let mut env = start(backend, |b| b.outbound_buffer(1)).await;
    let (_silent, id) = env.connect(None).await;
    let management = env.management().await;

    // WHEN messages keep coming (the socket buffers fill, then the queue)
    let big = vec![b'x'; 128 * 1024];
    let mut throttled = None;
    for _ in 0..2000 {
        match management
            .post_to_connection()
            .connection_id(&id)
            .data(Blob::new(big.clone()))
            .send()
            .await
        {
            Ok(_) => {}
            Err(err) => {
                throttled = Some(err);
                break;
            }
        }
    }

    // THEN the SDK sees LimitExceededException
    let err = throttled.expect("a full queue is refused");
    assert!(
        matches!(
            err.as_service_error(),
            Some(PostToConnectionError::LimitExceededException(_))
        ),
        "{err:?}"
    );
}

async fn a_message_over_128_kib_closes_with_1009(backend: Backend) {
    let mut env = start(backend, |b| b).await;
    let (mut client, id) = env.connect(Some("alpha")).await;

    // Exactly 128 KiB in frames of 32 KiB (API Gateway's frame limit) is
    // fine: it comes back
    let limit = "x".repeat(128 * 1024);
    send_fragmented(&mut client, &limit, 32 * 1024).await;
    assert_eq!(recv_text(&mut client).await.len(), limit.len());

    // One byte more closes the connection with 1009
    send_fragmented(&mut client, &format!("{limit}y"), 32 * 1024).await;
    let (code, _) = expect_close(&mut client).await;
    assert_eq!(code, 1009);
    let (code, _) = env.disconnected(&id).await;
    assert_eq!(code, 1009);
    assert_eq!(env.count("alpha").await, 0);
}

async fn a_frame_over_32_kib_closes_with_1009(backend: Backend) {
    let mut env = start(backend, |b| b).await;
    let (mut client, id) = env.connect(Some("alpha")).await;
    // Exactly 32 KiB in one frame is fine.
    let limit = "x".repeat(32 * 1024);
    send(&mut client, &limit).await;
    assert_eq!(recv_text(&mut client).await.len(), limit.len());
    // A 33 KiB frame is not, however small the message.
    send(&mut client, &"x".repeat(33 * 1024)).await;
    let (code, _) = expect_close(&mut client).await;
    assert_eq!(code, 1009);
    let (code, _) = env.disconnected(&id).await;
    assert_eq!(code, 1009);
    assert_eq!(env.count("alpha").await, 0);
}

async fn a_binary_frame_closes_with_1003_as_on_aws(backend: Backend) {
    // API Gateway takes no binary frames: it disconnects the client with 1003.
    let mut env = start(backend, |b| b).await;
    let (mut client, id) = env.connect(Some("alpha")).await;
    client
        .send(Message::binary(vec![0u8, 159, 146, 150]))
        .await
        .unwrap();
    let (code, _) = expect_close(&mut client).await;
    assert_eq!(code, 1003);
    let (code, _) = env.disconnected(&id).await;
    assert_eq!(code, 1003);
    assert_eq!(env.count("alpha").await, 0);
}

async fn a_huge_message_still_ends_with_1009(backend: Backend) {
    // Over the socket's read limit (16 MiB) the frame is refused as soon as
    // its header arrives; the client may see the close frame or a reset.
    let mut env = start(backend, |b| b).await;
    let (mut client, id) = env.connect(Some("alpha")).await;
    let _ = client
        .send(Message::text("x".repeat(17 * 1024 * 1024)))
        .await;
    let (code, _) = env.disconnected(&id).await;
    assert_eq!(code, 1009);
    assert_eq!(env.count("alpha").await, 0);
}

async fn an_invalid_channel_is_refused_with_400(backend: Backend) {
    let env = start(backend, |b| b).await;
    for bad in ["bad%20name", "a/b", "", &"x".repeat(129)] {
        let url = format!("{}?channel={bad}", env.gateway.ws_url());
        let err = tokio::time::timeout(support::WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("an answer in time")
            .expect_err("the handshake is refused");
        let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
            panic!("expected an HTTP refusal, got {err:?}");
        };
        assert_eq!(response.status(), 400, "channel {bad:?}");
        let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
        assert!(body.contains("channel"), "{body}");
    }
    assert!(env.gateway.connections().is_empty());
}

async fn a_member_that_vanished_without_disconnect_is_reported_gone_and_removed(backend: Backend) {
    // GIVEN a live member, and one the store has but the gateway never saw
    // (its $disconnect never arrived)
    let mut env = start(backend, |b| b).await;
    let (mut live, live_id) = env.connect(Some("alpha")).await;
    let alpha = ChannelName::parse("alpha").unwrap();
    // (connected a minute ago: a 410 of one still connecting keeps it)
    let ghost = Connection::new("GhostGhostGhos=", channels::now_millis() - 60_000);
    env.gateway
        .store()
        .connect(&ghost, Some(&alpha))
        .await
        .unwrap();
    assert_eq!(env.count("alpha").await, 2);

    // WHEN a message is published to the channel
    let (status, report) = env.publish(Some("alpha"), "anyone there?").await;

    // THEN the ghost is reported gone and removed; the live member gets it
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report,
        json!({"channel": "alpha", "offset": 1, "recipients": 2, "delivered": 1, "gone": 1, "failed": 0})
    );
    assert_eq!(recv_text(&mut live).await, "anyone there?");
    let store = env.gateway.store();
    let mut members = Vec::new();
    for shard in store.shards().all() {
        let page = store.members(&alpha, shard, None, None).await.unwrap();
        members.extend(page.members.into_iter().map(|m| m.connection_id));
    }
    assert_eq!(members, vec![live_id]);
    assert_eq!(env.count("alpha").await, 1);
}

async fn idle_timeout_closes_a_silent_connection(backend: Backend) {
    let mut env = start(backend, |b| b.idle_timeout(Duration::from_secs(1))).await;
    let (mut silent, id) = env.connect(Some("alpha")).await;

    let (code, _) = expect_close(&mut silent).await;
    assert_eq!(code, 1001);
    let (code, reason) = env.disconnected(&id).await;
    assert_eq!(code, 1001);
    assert!(reason.contains("idle"), "{reason}");
    assert_eq!(env.count("alpha").await, 0);
}

async fn max_lifetime_closes_a_connection(backend: Backend) {
    let mut env = start(backend, |b| b.max_lifetime(Duration::from_secs(1))).await;
    let (mut client, id) = env.connect(Some("alpha")).await;

    let (code, _) = expect_close(&mut client).await;
    assert_eq!(code, 1001);
    let (code, reason) = env.disconnected(&id).await;
    assert_eq!(code, 1001);
    assert!(reason.contains("duration"), "{reason}");
}

async fn shutdown_closes_every_connection_with_its_disconnect(backend: Backend) {
    // GIVEN two members
    let mut env = start(backend, |b| b).await;
    let (mut a, id_a) = env.connect(Some("alpha")).await;
    let (mut b, id_b) = env.connect(Some("beta")).await;
    let mut events = env.gateway.events();
    let store = env.gateway.store().clone();

    // WHEN the gateway shuts down
    // (moto, if any, stays up until the end of the test)
    let support::Env {
        gateway,
        moto: _moto,
        ..
    } = env;
    let closing = tokio::spawn(async move { gateway.shutdown().await });

    // THEN both are closed with 1001, each with its $disconnect, before
    // shutdown returns
    assert_eq!(expect_close(&mut a).await.0, 1001);
    assert_eq!(expect_close(&mut b).await.0, 1001);
    tokio::time::timeout(support::WAIT, closing)
        .await
        .expect("shutdown in time")
        .unwrap();
    let mut disconnected = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let GatewayEvent::Disconnected {
            connection_id,
            status_code,
            ..
        } = event
        {
            disconnected.push((connection_id, status_code));
        }
    }
    disconnected.sort();
    let mut expected = vec![(id_a, 1001), (id_b, 1001)];
    expected.sort();
    assert_eq!(disconnected, expected);
    for channel in ["alpha", "beta"] {
        let channel = ChannelName::parse(channel).unwrap();
        assert_eq!(channels::count(&store, &channel).await.unwrap(), 0);
    }
}

async fn http_api_answers_like_api_gateway(backend: Backend) {
    let mut env = start(backend, |b| b).await;
    let (mut client, _) = env.connect(Some("bin")).await;

    // A binary body is published byte for byte
    let response = env
        .http
        .post(env.url("/channels/bin"))
        .header("content-type", "application/octet-stream")
        .body(vec![0xffu8, 0x00, 0x01])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        recv(&mut client).await,
        Message::binary(vec![0xffu8, 0x00, 0x01])
    );

    // Errors are the handler's JSON
    let cases: &[(&str, &str, u16)] = &[
        ("GET", "", 405),                      // GET on the stage without an upgrade
        ("POST", "/channels/bad%20name", 400), // bad channel
        ("DELETE", "/channels/alpha", 405),    // wrong method
        ("GET", "/nowhere", 404),              // unknown route
    ];
    for (method, path, expected) in cases {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = env
            .http
            .request(method.clone(), env.url(path))
            .body("x")
            .send()
            .await
            .unwrap();
        let (status, body) = support::json(response).await;
        assert_eq!(status, *expected, "{method} {path}: {body}");
        assert!(body["message"].is_string(), "{body}");
    }
    let (status, body) = env.publish(Some("alpha"), "").await;
    assert_eq!((status, body["message"].is_string()), (400, true));

    // Outside the stage, API Gateway's own 404
    let response = env
        .http
        .get(format!("http://{}/elsewhere", env.gateway.addr()))
        .send()
        .await
        .unwrap();
    let (status, body) = support::json(response).await;
    assert_eq!((status, body), (404, json!({"message": "Not Found"})));
}

async fn a_request_no_route_matches_is_never_a_publish(backend: Backend) {
    // GIVEN a member of alpha
    let mut env = start(backend, |b| b).await;
    let (mut member, _) = env.connect(Some("alpha")).await;

    // WHEN requests that API Gateway sends to $default arrive: a trailing
    // slash, a method no route takes
    let cases: &[(&str, &str, u16, Option<&str>)] = &[
        ("POST", "/channels/alpha/", 404, None),
        ("GET", "/channels/alpha/", 404, None),
        ("POST", "/channels/alpha/x", 404, None),
        ("PUT", "/channels/alpha", 405, Some("GET, POST")),
        ("GET", "/", 405, Some("POST")),
    ];
    for (method, path, expected, allow) in cases {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = env
            .http
            .request(method.clone(), env.url(path))
            .header("content-type", "text/plain")
            .body("not for alpha")
            .send()
            .await
            .unwrap();
        let allowed = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned());
        let (status, body) = support::json(response).await;

        // THEN each is the handler's JSON 404 or 405 (with Allow)
        assert_eq!(status, *expected, "{method} {path}: {body}");
        assert_eq!(allowed.as_deref(), *allow, "{method} {path}");
        assert!(body["message"].is_string(), "{body}");
    }

    // AND nothing was published: the first message the member gets is the
    // next real publish
    let (status, report) = env.publish(Some("alpha"), "the real one").await;
    assert_eq!((status, &report["delivered"]), (200, &json!(1)), "{report}");
    assert_eq!(recv_text(&mut member).await, "the real one");

    // AND a WebSocket client may still add a trailing slash to the stage URL
    let (mut slash, _) = tokio_tungstenite::connect_async(format!("{}/", env.gateway.ws_url()))
        .await
        .expect("the handshake succeeds");
    send(&mut slash, "with a slash").await;
    assert_eq!(recv_text(&mut slash).await, "with a slash");
}

async fn a_post_racing_a_close_is_gone_not_queued_behind_it(backend: Backend) {
    // GIVEN a member that does not read, with messages piling up in its
    // queue: far more than the sockets buffer (a few MiB), so the gateway's
    // writer is stuck and the queue is not empty (nor full; nor past its
    // byte limit, raised for this test, or the gateway would close it 1008)
    let mut env = start(backend, |b| {
        b.outbound_buffer(4096).outbound_bytes(64 * 1024 * 1024)
    })
    .await;
    let (_stuck, id) = env.connect_slow_reader(Some("alpha")).await;
    let path = format!("/@connections/{id}");
    let message = vec![b'x'; 128 * 1024];
    for _ in 0..160 {
        let response = env
            .http
            .post(env.url(&path))
            .body(message.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // AND a PostToConnection that has already found the connection, its
    // body still to come
    let stage_path = format!("/{}{path}", env.gateway.stage());
    let late = HeldRequest::start(&env, "POST", &stage_path, 4).await;

    // WHEN the connection is deleted (the gateway starts closing it: the
    // close frame goes to the back of the queue)
    let response = env.http.delete(env.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 204);
    tokio::time::timeout(support::WAIT, async {
        while env.gateway.connections().contains(&id) {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the gateway forgets the connection in time");

    // THEN the late post is refused 410 GoneException, not answered 200 and
    // queued behind the close frame, where it would never be sent
    let (status, headers) = late.finish(b"late").await;
    let error_type = headers
        .iter()
        .find(|(name, _)| name == "x-amzn-errortype")
        .map(|(_, value)| value.as_str());
    assert_eq!((status, error_type), (410, Some("GoneException")));
    // AND the connection ends as deleted
    let (code, _) = env.disconnected(&id).await;
    assert_eq!(code, 1000);
}
