//! The answers the stand-in sends besides images: JSON errors, a proxy's HTML pages, and the
//! faulty answers (rate limits, gateway errors, garbage, a cut body, a dropped connection).

use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::SimConfig;
use super::faults::Fault;
use super::state::ConnKill;

pub(super) fn json_answer(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

pub(super) fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    json_answer(status, json!({ "error": msg.into() }))
}

/// An nginx-style HTML error page, as a proxy in front of the service sends.
pub(super) fn html_page(status: StatusCode) -> Response {
    let line = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let body = format!(
        "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

pub(super) fn money(v: f64) -> String {
    format!("{:.4}", v)
}

pub(super) fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// An answer that refuses a request (boxed: a `Response` is large).
pub(super) type Refusal = Box<Response>;

/// The answer of an error fault that stops a generation request before any work.
pub(super) fn early_fault_answer(cfg: &SimConfig, f: Fault) -> Option<Response> {
    match f {
        Fault::Status429 => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit exceeded: too many requests, try again later",
            );
            let (name, value) = if cfg.retry_after_on_429 {
                ("retry-after", "1".to_owned())
            } else {
                let at = SystemTime::now() + Duration::from_secs(1);
                (
                    "x-rate-limit-reset-at-utc",
                    crate::types::rfc3339_seconds(at),
                )
            };
            if let Ok(v) = HeaderValue::from_str(&value) {
                r.headers_mut().insert(name, v);
            }
            Some(r)
        }
        Fault::Status502 => Some(html_page(StatusCode::BAD_GATEWAY)),
        Fault::Status503 => Some(html_page(StatusCode::SERVICE_UNAVAILABLE)),
        Fault::Status403 => Some(error(
            StatusCode::FORBIDDEN,
            "Forbidden: this API key is not allowed to use flux-controlnet",
        )),
        Fault::Status410 => Some(error(
            StatusCode::GONE,
            "The model flux-controlnet has been retired",
        )),
        _ => None,
    }
}

/// The answer of an error fault that comes after the generation ran (not billed).
pub(super) fn late_fault_answer(f: Fault) -> Option<Response> {
    match f {
        Fault::Status500 => Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
        )),
        Fault::Status504 => Some(html_page(StatusCode::GATEWAY_TIMEOUT)),
        Fault::Html => Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!DOCTYPE html><html><head><title>Sign in to the network</title></head><body><h1>Please sign in</h1></body></html>",
            )
                .into_response(),
        ),
        _ => None,
    }
}

/// A body that is not an image (and not JSON): what a broken proxy might send.
pub(super) fn garbage_bytes() -> Vec<u8> {
    b"\x00GARBAGE\x01\x02 this is not an image "
        .iter()
        .copied()
        .cycle()
        .take(4096)
        .collect()
}

/// `200` announcing the full `Content-Length` but sending only the first half, then an error that
/// makes hyper close the connection.
pub(super) fn truncated(content_type: &'static str, full: Vec<u8>) -> Response {
    let len = full.len();
    let half = Bytes::from(full).slice(..len / 2);
    // The pause lets hyper flush the head and the half body before the error closes the socket.
    let chunks = futures_util::stream::unfold(Some(Some(half)), |state| async move {
        match state {
            Some(Some(half)) => Some((Ok(half), Some(None))),
            Some(None) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Some((
                    Err(std::io::Error::other("truncated by the stand-in (fault)")),
                    None,
                ))
            }
            None => None,
        }
    });
    let mut r = Response::new(Body::from_stream(chunks));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

/// Drops the connection of this request without an answer and never returns.
pub(super) async fn reset(kill: Option<ConnKill>) -> Response {
    if let Some(k) = kill {
        k.0.cancel();
        std::future::pending::<()>().await;
    }
    // Without a connection token (a router driven in-process) the closest is an empty 502.
    StatusCode::BAD_GATEWAY.into_response()
}
