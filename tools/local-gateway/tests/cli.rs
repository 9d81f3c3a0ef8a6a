//! The `local-gateway` binary as `make local` runs it: what it prints at
//! start, its `--allowed-origin` flag, and its `--token-issuers` flag and
//! `TOKEN_ISSUERS` environment variable (an issuer's key set served on
//! 127.0.0.1). Each test starts the binary on a free port and kills it (by
//! its own handle) when done; every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Stdio;

use base64::Engine as _;
use serde_json::Value;
use support::issuer::{access_token, jwks_server, key, token_issuers, KID, SUB};
use support::{ws_handshake, ws_request, WAIT};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// The binary with `args` on a free port; the environment is cleared, so
/// that no `AWS_ENDPOINT_URL_*` or `SUBSCRIBER_AUTH` of the caller's
/// changes what it does.
fn gateway(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_local-gateway"));
    command
        .args(["--port", "0"])
        .args(args)
        .env_clear()
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs it with `args`, which it must refuse: it exits, unsuccessfully, in
/// time; what it printed on stdout and on stderr.
async fn refused_at_start(args: &[&str]) -> (String, String) {
    let output = tokio::time::timeout(WAIT, gateway(args).output())
        .await
        .expect("it exits in time")
        .expect("the binary starts");
    assert!(!output.status.success());
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Starts it and reads its printed lines up to `management_endpoint`.
async fn started(args: &[&str]) -> (Child, Vec<String>) {
    started_with(gateway(args)).await
}

/// [`started`] for a command set up further (an environment variable).
async fn started_with(mut command: Command) -> (Child, Vec<String>) {
    let mut child = command.spawn().expect("the binary starts");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.expect("stdout") {
            let last = line.starts_with("management_endpoint");
            printed.push(line);
            if last {
                return;
            }
        }
        panic!("the binary stopped after printing {printed:?}");
    })
    .await
    .expect("the lines in time");
    (child, printed)
}

/// The value of `name = "…"` among the printed lines.
fn printed<'a>(lines: &'a [String], name: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{name} = \"")))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no {name} line in {lines:?}"))
}

async fn stop(mut child: Child) {
    child.kill().await.expect("the gateway is stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_demo_token_takes_a_lower_max_ttl() {
    // GIVEN tokens on, with a maximum lifetime below the demo token's hour
    let (child, lines) = started(&["--auth", "token", "--token-max-ttl-secs", "600"]).await;

    // THEN the gateway started, and the wscat line's token lives 600 s
    let wscat = printed(&lines, "wscat");
    let token = wscat
        .split("token=")
        .nth(1)
        .and_then(|t| t.split('\'').next())
        .expect("a token in the wscat line");
    let claims = token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap();
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 600, "{claims}");

    // AND the token opens the channel it was printed for
    let url = wscat
        .split('\'')
        .nth(1)
        .expect("the URL between quotes")
        .to_owned();
    let (status, client, body) = ws_handshake(ws_request(&url, &[])).await;
    assert_eq!(status, 101, "{body}");
    drop(client);
    stop(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_token_keeps_its_hour_under_the_default_max() {
    let (child, lines) = started(&["--auth", "token"]).await;
    let token = printed(&lines, "wscat")
        .split("token=")
        .nth(1)
        .and_then(|t| t.split('\'').next())
        .unwrap()
        .to_owned();
    let claims = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    stop(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origin_flags_let_those_pages_in_and_no_others() {
    let (child, lines) = started(&[
        "--allowed-origin",
        "http://localhost:5173",
        "--allowed-origin",
        "https://app.example",
    ])
    .await;
    let url = printed(&lines, "wscat")
        .strip_prefix("wscat --connect ")
        .unwrap()
        .to_owned();
    for (origin, expected) in [
        ("http://localhost:5173", 101),
        ("https://app.example", 101),
        ("http://evil.example", 403),
    ] {
        let (status, _, body) = ws_handshake(ws_request(&url, &[("origin", origin)])).await;
        assert_eq!(status, expected, "{origin}: {body}");
    }
    stop(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_origin_that_is_not_one_is_refused_at_start() {
    let (_, stderr) = refused_at_start(&["--allowed-origin", "localhost:5173"]).await;
    assert!(stderr.contains("scheme://host[:port]"), "{stderr}");
}

/// The WebSocket stage URL of the printed `wscat` line, without its query.
fn stage_url(lines: &[String]) -> String {
    let wscat = printed(lines, "wscat");
    let url = wscat
        .strip_prefix("wscat --connect ")
        .unwrap_or_else(|| panic!("{wscat}"))
        .trim_matches('\'');
    url.split('?').next().unwrap().to_owned()
}

/// An issuer token opens the user's own channel, as the `token.<JWT>`
/// subprotocol and as `?token=`, and not someone else's; a token of a `kid`
/// the issuer never published is refused.
async fn issuer_tokens_connect(lines: &[String]) {
    let key = key();
    let token = access_token(&key, KID);
    let stage = stage_url(lines);
    let inbox = format!("{stage}?channel=user:{SUB}:inbox");
    let protocols = format!("lrw.v1, token.{token}");
    let (status, client, body) = ws_handshake(ws_request(
        &inbox,
        &[("sec-websocket-protocol", &protocols)],
    ))
    .await;
    assert_eq!(status, 101, "{body}");
    drop(client);
    let (status, client, body) =
        ws_handshake(ws_request(&format!("{inbox}&token={token}"), &[])).await;
    assert_eq!(status, 101, "{body}");
    drop(client);
    let theirs = format!("{stage}?channel=user:someone-else:inbox&token={token}");
    let (status, _, body) = ws_handshake(ws_request(&theirs, &[])).await;
    assert_eq!(status, 403, "{body}");
    let stranger = access_token(&key, "not-a-published-kid");
    let (status, _, body) =
        ws_handshake(ws_request(&format!("{inbox}&token={stranger}"), &[])).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_issuers_flag_lets_an_issuers_tokens_in() {
    // GIVEN a user pool's key set on 127.0.0.1, and the binary started with
    // --token-issuers naming it
    let jwks_url = jwks_server(&key()).await;
    let issuers = token_issuers(&jwks_url);
    let (child, lines) = started(&["--auth", "token", "--token-issuers", &issuers]).await;
    // WHEN and THEN its access tokens open the user's channels, and no others
    issuer_tokens_connect(&lines).await;
    stop(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_issuers_variable_lets_an_issuers_tokens_in() {
    // GIVEN the same, with TOKEN_ISSUERS in the binary's environment
    let jwks_url = jwks_server(&key()).await;
    let mut command = gateway(&["--auth", "token"]);
    command.env("TOKEN_ISSUERS", token_issuers(&jwks_url));
    let (child, lines) = started_with(command).await;
    issuer_tokens_connect(&lines).await;
    stop(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_issuers_mistake_stops_the_binary_naming_the_field() {
    let issuers = r#"[{"issuer":"https://login.example.com/","jwks_url":"http://127.0.0.1:9/jwks","audience":"a","client_id":"c","channels":["x"]}]"#;
    let (stdout, stderr) = refused_at_start(&["--auth", "token", "--token-issuers", issuers]).await;
    let said = format!("{stdout}{stderr}");
    assert!(
        said.contains("--token-issuers") && said.contains("client_id"),
        "{said}"
    );
}
