//! A web page the user visits must not be able to use their gateway: a
//! request whose `Host` is not the gateway's (DNS rebinding) or whose
//! `Origin` is another site's is refused before anything is routed, HTTP and
//! WebSocket alike, while the gateway's own page and listed origins work.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use local_gateway::{Gateway, GatewayError};
use serde_json::Value;
use support::{
    first_status, json, read_until_closed, recv_text, with_tokens, ws_handshake, ws_request, Env,
};
use tokio::io::AsyncWriteExt as _;

const EVIL: &str = "http://evil.example";

/// A request to `path` on the gateway (stage not included) with extra
/// headers; status, headers and JSON.
async fn request(
    env: &Env,
    method: &str,
    path: &str,
    headers: &[(&'static str, &str)],
    body: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = env
        .http
        .request(method, format!("http://{}{path}", env.gateway.addr()))
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("an answer");
    let headers = response.headers().clone();
    let (status, body) = json(response).await;
    (status, headers, body)
}

fn token_of(body: &Value) -> String {
    body["token"].as_str().expect("a token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_is_refused_over_http_and_websocket() {
    // GIVEN a gateway with tokens on
    let mut env = with_tokens(|b| b).await;
    let port = env.gateway.addr().port();
    let rebound = format!("rebind.evil.example:{port}");

    // WHEN a page on a name rebound to 127.0.0.1 calls it, THEN every route
    // answers 421 with a JSON message: the page, config, minting, publishing
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/config.json"),
        ("POST", "/staging/tokens"),
        ("POST", "/staging/channels/default"),
        ("GET", "/staging/channels/default"),
    ] {
        let (status, _, body) = request(
            &env,
            method,
            path,
            &[
                ("host", &rebound),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            "channels=default",
        )
        .await;
        assert_eq!(status, 421, "{method} {path}: {body}");
        let message = body["message"].as_str().expect("a JSON message");
        assert!(message.contains("127.0.0.1"), "{message}");
    }

    // AND a WebSocket handshake with that Host is refused before $connect
    let (status, client, body) =
        ws_handshake(ws_request(&env.gateway.ws_url(), &[("host", &rebound)])).await;
    assert_eq!(status, 421, "{body}");
    assert!(client.is_none());

    // AND a request without any Host is a bad one
    let mut raw = tokio::net::TcpStream::connect(env.gateway.addr())
        .await
        .unwrap();
    raw.write_all(b"GET /config.json HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(first_status(&read_until_closed(&mut raw).await), Some(400));

    // AND nothing reached a handler: no connection, nothing counted
    assert!(env.gateway.connections().is_empty());
    assert!(env.drain_events().is_empty());
    assert_eq!(env.count("default").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_sites_page_can_neither_mint_nor_publish_nor_reach_connections() {
    // GIVEN a gateway with tokens on and a member of room
    let mut env = with_tokens(|b| b).await;
    let (status, _, body) = request(
        &env,
        "POST",
        "/staging/tokens",
        &[("content-type", "application/x-www-form-urlencoded")],
        "channels=room",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let url = format!(
        "{}?channel=room&token={}",
        env.gateway.ws_url(),
        token_of(&body)
    );
    let (status, member, _) = ws_handshake(ws_request(&url, &[])).await;
    assert_eq!(status, 101);
    let mut member = member.unwrap();
    let id = env
        .wait_event(|e| match e {
            local_gateway::GatewayEvent::Connected { connection_id } => Some(connection_id.clone()),
            _ => None,
        })
        .await;
    let form = ("content-type", "application/x-www-form-urlencoded");

    // WHEN a page from another site posts (a form post needs no preflight,
    // so the browser sends it), THEN each is refused 403 with a JSON message
    // that says how to allow an origin
    for (method, path, body) in [
        ("POST", "/staging/tokens", "channels=*"),
        ("POST", "/staging/channels/room", "from evil"),
        ("POST", "/staging", "from evil"),
        (
            "POST",
            &format!("/staging/@connections/{id}") as &str,
            "from evil",
        ),
        ("DELETE", &format!("/staging/@connections/{id}") as &str, ""),
        ("GET", "/config.json", ""),
    ] {
        let (status, headers, answer) =
            request(&env, method, path, &[("origin", EVIL), form], body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        let message = answer["message"].as_str().expect("a JSON message");
        assert!(message.contains("--allowed-origin"), "{message}");
        assert!(!headers.contains_key("access-control-allow-origin"));
    }

    // AND its WebSocket handshake is refused before $connect, even with the
    // token in the URL
    let (status, client, body) = ws_handshake(ws_request(&url, &[("origin", EVIL)])).await;
    assert_eq!((status, client.is_none()), (403, true), "{body}");

    // AND so is an origin that merely starts like the gateway's own
    let own_lookalike = format!(
        "http://127.0.0.1:{}.evil.example",
        env.gateway.addr().port()
    );
    let (status, _, _) = request(
        &env,
        "POST",
        "/staging/channels/room",
        &[("origin", &own_lookalike), form],
        "x",
    )
    .await;
    assert_eq!(status, 403);

    // THEN the member is still there and got nothing: the next message it
    // sees is the next real publish
    assert_eq!(env.gateway.connections(), vec![id.clone()]);
    let (status, report) = env.publish(Some("room"), "the real one").await;
    assert_eq!(
        (status, &report["delivered"]),
        (200, &serde_json::json!(1)),
        "{report}"
    );
    assert_eq!(recv_text(&mut member).await, "the real one");
    // AND no other connection was ever made
    let connected = env
        .drain_events()
        .into_iter()
        .filter(|e| matches!(e, local_gateway::GatewayEvent::Connected { .. }))
        .count();
    assert_eq!(connected, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_own_requests_keep_working_from_127_0_0_1_and_localhost() {
    let env = with_tokens(|b| b).await;
    let port = env.gateway.addr().port();
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let origin = format!("http://{host}");
        let own = [("host", host.as_str()), ("origin", origin.as_str())];

        // The page and its config, which names the host it was loaded from
        let (status, _, _) = request(&env, "GET", "/", &own[..1], "").await;
        assert_eq!(status, 200, "{host}");
        let (status, _, config) = request(&env, "GET", "/config.json", &own, "").await;
        assert_eq!(status, 200, "{host}");
        assert_eq!(config["wsUrl"], format!("ws://{host}/staging"));
        assert_eq!(config["httpUrl"], format!("http://{host}/staging"));

        // Minting (JSON, as the page does), with a CORS answer
        let (status, headers, minted) = request(
            &env,
            "POST",
            "/staging/tokens",
            &[own[0], own[1], ("content-type", "application/json")],
            r#"{"channels":["*"],"publish":["*"],"subject":"page"}"#,
        )
        .await;
        assert_eq!(status, 200, "{host}: {minted}");
        assert_eq!(headers["access-control-allow-origin"], origin.as_str());

        // Its WebSocket, with the Origin a browser sends
        let url = format!(
            "{}?channel=page&token={}",
            env.gateway.ws_url(),
            token_of(&minted)
        );
        let (status, client, body) = ws_handshake(ws_request(&url, &own)).await;
        assert_eq!(status, 101, "{host}: {body}");
        let mut client = client.unwrap();

        // Publishing from the page reaches it
        let (status, _, report) = request(
            &env,
            "POST",
            "/staging/channels/page",
            &[own[0], own[1], ("content-type", "text/plain")],
            "from the page",
        )
        .await;
        assert_eq!(status, 200, "{host}: {report}");
        assert_eq!(recv_text(&mut client).await, "from the page");
        support::close(&mut client, 1000).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_origin_gets_in_with_cors_answers_and_others_stay_out() {
    // GIVEN a gateway that allows a dev server's pages
    let dev = "http://localhost:5173";
    let env = with_tokens(|b| b.allowed_origin(format!("{dev}/"))).await;
    assert!(env.gateway.allowed_origins().contains(&dev.to_owned()));
    assert!(env
        .gateway
        .allowed_origins()
        .contains(&format!("http://127.0.0.1:{}", env.gateway.addr().port())));

    // WHEN its page asks before a JSON POST (a preflight), THEN it may
    let (status, headers, _) = request(
        &env,
        "OPTIONS",
        "/staging/tokens",
        &[
            ("origin", dev),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ],
        "",
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(headers["access-control-allow-origin"], dev);
    assert_eq!(headers["access-control-allow-headers"], "content-type");
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));

    // AND it mints, and connects with the token
    let (status, headers, minted) = request(
        &env,
        "POST",
        "/staging/tokens",
        &[("origin", dev), ("content-type", "application/json")],
        r#"{"channels":["dev"]}"#,
    )
    .await;
    assert_eq!(status, 200, "{minted}");
    assert_eq!(headers["access-control-allow-origin"], dev);
    let url = format!(
        "{}?channel=dev&token={}",
        env.gateway.ws_url(),
        token_of(&minted)
    );
    let (status, client, _) = ws_handshake(ws_request(&url, &[("origin", dev)])).await;
    assert_eq!(status, 101);
    drop(client);

    // BUT the next port is another origin: refused, preflight included
    for (method, extra) in [
        ("OPTIONS", ("access-control-request-method", "POST")),
        ("POST", ("content-type", "application/json")),
    ] {
        let (status, headers, _) = request(
            &env,
            method,
            "/staging/tokens",
            &[("origin", "http://localhost:5174"), extra],
            r#"{"channels":["dev"]}"#,
        )
        .await;
        assert_eq!(status, 403, "{method}");
        assert!(!headers.contains_key("access-control-allow-origin"));
    }
    let (status, _, _) =
        ws_handshake(ws_request(&url, &[("origin", "http://localhost:5174")])).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_listed_origin_that_is_not_an_origin_stops_the_start() {
    for junk in ["localhost:5173", "*", "http://app.example/path"] {
        let started = Gateway::builder()
            .allowed_origin(junk)
            .bind("127.0.0.1:0")
            .await;
        let Err(GatewayError::Origin(message)) = started else {
            panic!("{junk:?} was taken");
        };
        assert!(message.contains("scheme://host[:port]"), "{message}");
    }
}
