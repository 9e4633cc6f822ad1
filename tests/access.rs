//! Access control: a daemon with a token admits only the Hellos that carry
//! it, refuses the rest before any model is looked at, and a daemon will
//! not listen beyond loopback without a token unless told it is insecure.
//! Every connection here goes to 127.0.0.1, also to a daemon bound to
//! 0.0.0.0.

use std::sync::Arc;

use fourstock_policy::ModelRegistry;
use fourstock_proto::{ClientMessage, ErrorCode};
use fourstock_server::{Access, ServerConfig, ServerError, Token};
use fourstock_telemetry::Telemetry;
use fourstock_tests::client::{hello, within_timeout, TestClient};
use fourstock_tests::fixtures::{frames, FOX};
use fourstock_tests::policies::CountingPolicy;
use fourstock_tests::server::{config, TestServer};

const SECRET: &str = "correct horse battery staple";

fn models() -> ModelRegistry {
    ModelRegistry::single(CountingPolicy::new("counting").into_arc())
}

fn with_access(access: Access, telemetry: &Arc<Telemetry>) -> ServerConfig {
    ServerConfig {
        access,
        telemetry: telemetry.clone(),
        ..config(1000)
    }
}

fn series<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or("0")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_with_a_token_admits_only_hellos_that_carry_it() {
    within_timeout(async {
        let telemetry = Arc::new(Telemetry::new());
        let token = Token::new(SECRET).expect("a token");
        let server = TestServer::start_on(
            "0.0.0.0:0",
            models(),
            with_access(Access::Token(token), &telemetry),
        )
        .await;

        // The right token: a session that answers frames.
        let mut right = hello(&[(1, FOX)]);
        right.token = Some(SECRET.into());
        let mut client = TestClient::connect(server.addr).await;
        let welcome = client.hello(right).await;
        assert_eq!(welcome.ports[0].model, "counting");
        for f in frames(-123, -100) {
            assert_eq!(client.frame(&f).await.frame, f.frame);
        }
        drop(client);

        // No token, a wrong one, a prefix of the right one, the right one
        // with more after it, and the right one with its case changed.
        let wrong = [
            None,
            Some("hunter2".to_string()),
            Some(SECRET[..SECRET.len() - 1].to_string()),
            Some(format!("{SECRET}!")),
            Some(SECRET.to_uppercase()),
        ];
        for token in &wrong {
            let mut h = hello(&[(1, FOX)]);
            h.token = token.clone();
            let mut client = TestClient::connect(server.addr).await;
            client.send(&ClientMessage::Hello(h)).await;
            let error = client.expect_error(ErrorCode::Unauthorized).await;
            assert!(error.message.contains("token"), "{}", error.message);
            assert!(
                !error.message.contains(SECRET),
                "the refusal does not echo the secret: {}",
                error.message
            );
        }

        // A wrong token with a model the daemon does not have: refused for
        // the token, so the registry was never asked.
        let mut h = hello(&[(1, FOX)]);
        h.ports[0].model = Some("no-such-model".into());
        h.token = Some("hunter2".into());
        let mut client = TestClient::connect(server.addr).await;
        client.send(&ClientMessage::Hello(h)).await;
        client.expect_error(ErrorCode::Unauthorized).await;

        server.shutdown().await;
        let text = telemetry.encode();
        assert_eq!(
            series(&text, "fourstock_errors_total{code=\"unauthorized\"}"),
            (wrong.len() + 1).to_string()
        );
        assert_eq!(series(&text, "fourstock_sessions_opened_total"), "1");
        assert_eq!(
            series(&text, "fourstock_errors_total{code=\"unknown_model\"}"),
            "0"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_loopback_the_daemon_needs_a_token_or_insecure_no_auth() {
    within_timeout(async {
        // No token on 0.0.0.0: run refuses before serving anyone.
        let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
            .await
            .expect("bind");
        let refused = fourstock_server::run(
            listener,
            models(),
            config(1000),
            std::future::pending::<()>(),
        )
        .await;
        match refused {
            Err(ServerError::Access(e)) => {
                let text = e.to_string();
                assert!(text.contains("--token-file"), "{text}");
                assert!(text.contains("--insecure-no-auth"), "{text}");
            }
            other => panic!("expected a refusal to listen, got {other:?}"),
        }

        // --insecure-no-auth: served without a token.
        let telemetry = Arc::new(Telemetry::new());
        let server = TestServer::start_on(
            "0.0.0.0:0",
            models(),
            with_access(Access::Insecure, &telemetry),
        )
        .await;
        let (mut client, _) = TestClient::handshake(server.addr, &[(1, FOX)]).await;
        assert_eq!(client.frame(&frames(-123, -122)[0]).await.frame, -123);
        drop(client);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_loopback_no_token_is_needed_and_one_sent_is_ignored() {
    within_timeout(async {
        let telemetry = Arc::new(Telemetry::new());
        let server = TestServer::start(models(), with_access(Access::Loopback, &telemetry)).await;
        let (_client, _) = TestClient::handshake(server.addr, &[(1, FOX)]).await;
        let mut h = hello(&[(1, FOX)]);
        h.token = Some("anything".into());
        let welcome = TestClient::connect(server.addr).await.hello(h).await;
        assert_eq!(welcome.ports.len(), 1);
        server.shutdown().await;
    })
    .await;
}

#[test]
fn tokens_are_read_trimmed_bounded_and_never_printed() {
    let dir = std::env::temp_dir().join(format!("fourstock-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");

    std::fs::write(&file, format!("  {SECRET}\n")).unwrap();
    let token = Token::read(&file).expect("a token with a final newline");
    assert!(token.matches(SECRET));
    assert!(!token.matches(&format!("{SECRET}\n")), "compared exactly");
    assert!(!format!("{token:?}").contains("horse"), "{token:?}");

    std::fs::write(&file, "\n \n").unwrap();
    assert!(Token::read(&file).is_err(), "an empty file is no token");
    std::fs::write(&file, "k".repeat(257)).unwrap();
    assert!(Token::read(&file).is_err(), "over 256 bytes");
    std::fs::write(&file, "k".repeat(256)).unwrap();
    assert!(Token::read(&file).is_ok(), "256 bytes");
    std::fs::write(&file, vec![b' '; 5000]).unwrap();
    assert!(Token::read(&file).is_err(), "a file over 4 KiB is not read");
    assert!(Token::read(&dir.join("missing")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
