//! The page at `http://127.0.0.1:PORT/` (outside the stage paths): the
//! browser client (`clients/js`, its committed bundle) and a small page
//! built on it, embedded at build time, so `make local` needs no npm.
//!
//! | path           | what                                                       |
//! |----------------|------------------------------------------------------------|
//! | `/`            | the page                                                   |
//! | `/client.js`   | the client, one ES module                                  |
//! | `/page.js`     | the page's script                                          |
//! | `/page.css`    | its style                                                  |
//! | `/config.json` | `{"wsUrl","httpUrl","auth"}`: where the page connects      |
//!
//! `config.json` names the host the page was loaded from (one of the
//! gateway's own: [`crate::guard`] refuses any other), so that a page opened
//! on `http://localhost:PORT/` talks to `localhost:PORT` and stays
//! same-origin.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde_json::json;

use crate::state::Shared;

const INDEX: &str = include_str!("../../../clients/js/page/index.html");
const CLIENT: &str = include_str!("../../../clients/js/dist/client.js");
const PAGE_JS: &str = include_str!("../../../clients/js/page/page.js");
const PAGE_CSS: &str = include_str!("../../../clients/js/page/page.css");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

pub(crate) async fn client() -> Response {
    asset("text/javascript; charset=utf-8", CLIENT)
}

pub(crate) async fn page_js() -> Response {
    asset("text/javascript; charset=utf-8", PAGE_JS)
}

pub(crate) async fn page_css() -> Response {
    asset("text/css; charset=utf-8", PAGE_CSS)
}

/// Where the page connects, and whether it must mint a token first.
pub(crate) async fn config(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let auth = if shared.http.tokens.is_some() {
        "token"
    } else {
        "none"
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(&shared.domain);
    let body = json!({
        "wsUrl": format!("ws://{host}/{}", shared.stage),
        "httpUrl": format!("http://{host}/{}", shared.stage),
        "auth": auth,
    });
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(body),
    )
        .into_response()
}
