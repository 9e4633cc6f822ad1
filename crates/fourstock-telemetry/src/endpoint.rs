//! The HTTP endpoint a Prometheus server scrapes: `GET /metrics` (the
//! figures) and `GET /healthz` (`ok`, for a container's probe). hyper
//! speaks the HTTP; this file only routes and bounds.
//!
//! A scrape is untrusted input like any other: at most [`MAX_SCRAPES`]
//! connections are served at once (more are closed unanswered), each has
//! [`SCRAPE_TIMEOUT`] to finish, and nothing here can reach a session.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

use crate::telemetry::Telemetry;

/// Scrapes served at once.
pub const MAX_SCRAPES: usize = 16;

/// How long one scrape connection may stay open.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `telemetry` on `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, telemetry: Arc<Telemetry>, shutdown: impl Future) {
    if let Ok(addr) = listener.local_addr() {
        if !addr.ip().is_loopback() {
            warn!(%addr, "metrics are served beyond loopback, unauthenticated");
        }
        info!(%addr, "serving /metrics and /healthz");
    }
    let limit = Arc::new(Semaphore::new(MAX_SCRAPES));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, say: back off briefly, keep serving.
                warn!("metrics accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            debug!(%peer, "too many scrapes at once: closing one");
            continue;
        };
        let telemetry = telemetry.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let response = answer(&telemetry, &request);
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(SCRAPE_TIMEOUT, connection).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => debug!(%peer, "scrape connection: {e}"),
                Err(_) => debug!(%peer, "scrape connection timed out"),
            }
            drop(permit);
        });
    }
}

fn answer(telemetry: &Telemetry, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => (StatusCode::OK, OPENMETRICS, telemetry.encode()),
        (&Method::GET, "/healthz") => (StatusCode::OK, "text/plain", "ok\n".to_string()),
        (&Method::GET, _) => (StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "only GET\n".into(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
