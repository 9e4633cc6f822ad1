//! The figures an operator scrapes: after a known session, `/metrics`
//! over HTTP holds exactly its frames, replies by kind, steps, resets by
//! cause, errors by code, sessions and models; `/healthz` answers `ok`.

use std::net::SocketAddr;
use std::sync::Arc;

use fourstock_policy::{ModelRegistry, Policy};
use fourstock_proto::{ClientMessage, ErrorCode, PortRequest};
use fourstock_recurrent::checkpoint::expected_tensors;
use fourstock_recurrent::featurizer::Featurizer;
use fourstock_recurrent::{CellKind, FeatureConfig, PolicyConfig, RecurrentPolicy};
use fourstock_telemetry::Telemetry;
use fourstock_tests::client::{within_timeout, TestClient};
use fourstock_tests::fixtures::{frame, frames, FALCO};
use fourstock_tests::policies::CountingPolicy;
use fourstock_tests::server::{config, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One HTTP/1.1 GET over loopback; the whole response as text.
async fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect to metrics");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read response");
    response
}

/// The value of the series that starts a line with `series`.
fn value<'a>(text: &'a str, series: &str) -> &'a str {
    fourstock_tests::metrics::value(text, series)
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

fn recurrent(name: &str) -> RecurrentPolicy {
    let config = PolicyConfig {
        name: name.into(),
        description: String::new(),
        trained: false,
        cell: CellKind::Gru,
        hidden_sizes: vec![16, 8],
        features: FeatureConfig::default(),
        delay: 0,
        reset: Default::default(),
        decoding: Default::default(),
        characters: Vec::new(),
    };
    RecurrentPolicy::initialize(config, 1).expect("an untrained policy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_after_a_known_session_counts_it_exactly() {
    within_timeout(async {
        let small = recurrent("small-gru");
        let input = Featurizer::new(&small.config().features).size();
        let weights: u64 = expected_tensors(small.config(), input)
            .iter()
            .map(|(_, shape)| shape.iter().product::<usize>() as u64)
            .sum();
        let mut models = ModelRegistry::single(CountingPolicy::new("counting").into_arc());
        models.insert(Arc::new(small) as Arc<dyn Policy>);

        let telemetry = Arc::new(Telemetry::new());
        let endpoint = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let metrics = endpoint.local_addr().expect("an address");
        let scraper = tokio::spawn(fourstock_telemetry::serve(
            endpoint,
            telemetry.clone(),
            std::future::pending::<()>(),
        ));
        let server = TestServer::start(
            models,
            fourstock_server::ServerConfig {
                telemetry: telemetry.clone(),
                ..config(1000)
            },
        )
        .await;

        // Ten frames (the first starts a match: one port reset), a stock
        // lost on frame 10, and a re-send of frame 9.
        let (mut client, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        for f in frames(0, 10) {
            client.frame(&f).await;
        }
        client.frame(&frame(10, [3, 4])).await;
        client.frame(&frame(9, [4, 4])).await;
        // A second client asks for a model the daemon does not have.
        let mut refused = TestClient::connect(server.addr).await;
        let mut hello = fourstock_tests::client::hello(&[(1, FALCO)]);
        hello.ports = vec![PortRequest {
            model: Some("nope".into()),
            ..hello.ports[0].clone()
        }];
        refused.send(&ClientMessage::Hello(hello)).await;
        refused.expect_error(ErrorCode::UnknownModel).await;

        let live = get(metrics, "/metrics").await;
        assert!(live.starts_with("HTTP/1.1 200"), "{live}");
        assert_eq!(value(&live, "fourstock_sessions_open"), "1");

        // Shut down with the first client still connected: its session
        // ends with ShuttingDown, and every count is final.
        server.shutdown().await;
        client.expect_error(ErrorCode::ShuttingDown).await;
        let text = get(metrics, "/metrics").await;
        for (series, expected) in [
            ("fourstock_frames_total", "12".to_string()),
            ("fourstock_replies_total{kind=\"on_time\"}", "11".into()),
            ("fourstock_replies_total{kind=\"resend\"}", "1".into()),
            ("fourstock_replies_total{kind=\"fallback\"}", "0".into()),
            ("fourstock_reply_seconds_count", "12".into()),
            ("fourstock_steps_total{model=\"counting\"}", "11".into()),
            (
                "fourstock_step_seconds_count{model=\"counting\"}",
                "11".into(),
            ),
            ("fourstock_steps_total{model=\"small-gru\"}", "0".into()),
            ("fourstock_resets_total{cause=\"new_match\"}", "1".into()),
            ("fourstock_resets_total{cause=\"stock_loss\"}", "1".into()),
            ("fourstock_errors_total{code=\"unknown_model\"}", "1".into()),
            ("fourstock_errors_total{code=\"shutting_down\"}", "1".into()),
            ("fourstock_sessions_opened_total", "1".into()),
            ("fourstock_sessions_closed_total", "1".into()),
            ("fourstock_sessions_open", "0".into()),
            (
                "fourstock_model_parameters{model=\"small-gru\"}",
                weights.to_string(),
            ),
        ] {
            assert_eq!(value(&text, series), expected, "{series}");
        }
        assert!(
            text.contains("content-type: application/openmetrics-text"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("# EOF"), "{text}");

        let health = get(metrics, "/healthz").await;
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        assert!(health.ends_with("ok\n"), "{health}");
        let missing = get(metrics, "/nothing").await;
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        scraper.abort();
    })
    .await;
}
