//! The handshake: which model plays each port, and the budget in force.

use fourstock_proto::{ClientMessage, ErrorCode, PROTOCOL_VERSION};
use fourstock_server::ModelRegistry;
use fourstock_tests::client::{hello, within_timeout, TestClient};
use fourstock_tests::fixtures::{FALCO, FOX};
use fourstock_tests::policies::{small_lstm, CountingPolicy};
use fourstock_tests::server::{config, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welcome_names_each_ports_model_and_the_budget() {
    within_timeout(async {
        let server = TestServer::with_policy(small_lstm("tiny", 1), config(8)).await;
        let (_client, welcome) = TestClient::handshake(server.addr, &[(1, FALCO), (3, FOX)]).await;
        assert_eq!(welcome.version, PROTOCOL_VERSION);
        assert_eq!(welcome.budget_us, 8000);
        assert_eq!(welcome.ports.len(), 2);
        assert_eq!(welcome.ports[0].port, 1);
        assert_eq!(welcome.ports[1].port, 3);
        for port in &welcome.ports {
            assert_eq!(port.model, "tiny");
            assert_eq!(port.cell, "lstm");
            assert_eq!(port.hidden_sizes, vec![32, 16]);
            assert!(port.input_size > 900, "input size {}", port.input_size);
            assert_eq!(port.delay, 0);
            assert!(port.reason.contains("default"), "reason: {}", port.reason);
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_can_ask_for_a_stricter_budget_but_not_a_looser_one() {
    within_timeout(async {
        let server = TestServer::with_policy(CountingPolicy::new("c").into_arc(), config(8)).await;
        let mut strict = hello(&[(1, FOX)]);
        strict.budget_us = Some(2500);
        let welcome = TestClient::connect(server.addr).await.hello(strict).await;
        assert_eq!(welcome.budget_us, 2500);

        let mut loose = hello(&[(1, FOX)]);
        loose.budget_us = Some(50_000);
        let welcome = TestClient::connect(server.addr).await.hello(loose).await;
        assert_eq!(welcome.budget_us, 8000);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_are_chosen_by_name_then_character_then_default() {
    within_timeout(async {
        let mut models = ModelRegistry::single(CountingPolicy::new("generic").into_arc());
        models.insert(CountingPolicy::new("falco-only").into_arc(), vec![FALCO]);
        models.insert(CountingPolicy::new("named").into_arc(), vec![]);
        let server = TestServer::start(models, config(8)).await;

        let mut request = hello(&[(1, FALCO), (2, FOX), (3, FOX)]);
        request.ports[2].model = Some("named".into());
        let welcome = TestClient::connect(server.addr).await.hello(request).await;
        let chosen: Vec<&str> = welcome.ports.iter().map(|p| p.model.as_str()).collect();
        assert_eq!(chosen, ["falco-only", "generic", "named"]);
        assert!(welcome.ports[0].reason.contains("character 20"));
        assert!(welcome.ports[2].reason.contains("requested"));

        let mut unknown = hello(&[(1, FOX)]);
        unknown.ports[0].model = Some("no-such-model".into());
        let mut client = TestClient::connect(server.addr).await;
        client.send(&ClientMessage::Hello(unknown)).await;
        let error = client.expect_error(ErrorCode::UnknownModel).await;
        assert!(error.message.contains("no-such-model"), "{}", error.message);

        // A huge name quoted back must not make the error itself too large.
        let mut huge = hello(&[(1, FOX)]);
        huge.ports[0].model = Some("\u{1}".repeat(60_000));
        let mut client = TestClient::connect(server.addr).await;
        client.send(&ClientMessage::Hello(huge)).await;
        let error = client.expect_error(ErrorCode::UnknownModel).await;
        assert!(error.message.len() <= 1100, "{} bytes", error.message.len());
        server.shutdown().await;
    })
    .await;
}
