//! The handshake: which model plays each port, the player it imitates, its
//! reset rule, and the budget in force.

use fourstock_policy::{Family, ModelRegistry};
use fourstock_proto::{ClientMessage, ErrorCode, PROTOCOL_VERSION};
use fourstock_recurrent::RecurrentFamily;
use fourstock_slippi::SlippiFamily;
use fourstock_tests::client::{hello, within_timeout, TestClient};
use fourstock_tests::fixtures::{frames, player, FALCO, FOX};
use fourstock_tests::policies::{small_lstm, write_small_slippi_model, CountingPolicy};
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
        models.insert(
            CountingPolicy::new("falco-only")
                .for_characters(vec![FALCO])
                .into_arc(),
        );
        models.insert(CountingPolicy::new("named").into_arc());
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

/// A models folder with a small slippi-ai model, `phillip`, offering twelve
/// player names ("Ann" by default), plus fourstock's own `tiny` LSTM.
fn slippi_and_fourstock_models(dir: &std::path::Path) -> ModelRegistry {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let mut names = vec![("Ann".to_string(), 0), ("Bo".to_string(), 5)];
    names.extend((0..10).map(|i| (format!("Player {i}"), 6 + i)));
    let names: Vec<(&str, u32)> = names.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    write_small_slippi_model(dir, "phillip", &names, 1);
    std::fs::write(dir.join("index.json"), r#"{"default": "phillip"}"#).unwrap();
    let families: [&dyn Family; 2] = [&RecurrentFamily, &SlippiFamily];
    let mut models = ModelRegistry::load(dir, &families).expect("the models folder loads");
    models.insert(small_lstm("tiny", 1));
    models
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_chooses_the_player_a_slippi_ai_model_imitates() {
    within_timeout(async {
        let dir = std::env::temp_dir().join(format!("fourstock-names-{}", std::process::id()));
        let server = TestServer::start(slippi_and_fourstock_models(&dir), config(1000)).await;

        // Port 1 imitates Bo; port 2 keeps the model's default; port 3
        // plays fourstock's own model, which imitates no one.
        let mut request = hello(&[(1, FALCO), (2, FOX), (3, FOX)]);
        request.ports[0].player_name = Some("Bo".into());
        request.ports[2].model = Some("tiny".into());
        let mut client = TestClient::connect(server.addr).await;
        let welcome = client.hello(request).await;
        let [bo, default, tiny] = &welcome.ports[..] else {
            panic!("three ports: {welcome:?}");
        };
        for slippi in [bo, default] {
            assert_eq!(
                (slippi.model.as_str(), slippi.cell.as_str()),
                ("phillip", "tx_like")
            );
            assert!(
                !slippi.reset_on_stock_loss,
                "slippi-ai keeps its state at a stock loss"
            );
            assert!(slippi.reset_on_new_match);
        }
        assert_eq!(bo.player_name.as_deref(), Some("Bo"));
        assert_eq!(default.player_name.as_deref(), Some("Ann"));
        assert_eq!(tiny.model, "tiny");
        assert!(tiny.reset_on_stock_loss && tiny.reset_on_new_match);
        assert_eq!(tiny.player_name, None);
        // And they play.
        for mut f in frames(-123, -113) {
            f.players.push(player(3, FOX, f.frame, 4));
            let reply = client.frame(&f).await;
            assert_eq!(reply.outputs.len(), 3);
        }
        server.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_name_the_model_does_not_offer_is_refused() {
    within_timeout(async {
        let dir = std::env::temp_dir().join(format!("fourstock-refused-{}", std::process::id()));
        let server = TestServer::start(slippi_and_fourstock_models(&dir), config(1000)).await;
        let refused = |port: usize, model: Option<&str>, name: String| {
            let mut request = hello(&[(1, FALCO), (2, FOX)]);
            request.ports[port].model = model.map(str::to_string);
            request.ports[port].player_name = Some(name);
            request
        };

        // A name not in the map: the port, the model and what it offers.
        let mut client = TestClient::connect(server.addr).await;
        let request = refused(1, None, "Nobody".into());
        client.send(&ClientMessage::Hello(request)).await;
        let e = client.expect_error(ErrorCode::BadHandshake).await;
        for needle in [
            "port 2",
            "phillip",
            "Nobody",
            "\"Ann\"",
            "\"Bo\"",
            "and 4 more",
        ] {
            assert!(e.message.contains(needle), "{needle:?} in {:?}", e.message);
        }
        assert!(e.message.len() < 300, "a short message: {:?}", e.message);

        // Any name for fourstock's own model.
        let mut client = TestClient::connect(server.addr).await;
        let request = refused(0, Some("tiny"), "Ann".into());
        client.send(&ClientMessage::Hello(request)).await;
        let e = client.expect_error(ErrorCode::BadHandshake).await;
        for needle in ["port 1", "tiny", "no player names"] {
            assert!(e.message.contains(needle), "{needle:?} in {:?}", e.message);
        }

        // A huge name is not quoted back whole.
        let mut client = TestClient::connect(server.addr).await;
        let request = refused(0, None, "x".repeat(60_000));
        client.send(&ClientMessage::Hello(request)).await;
        let e = client.expect_error(ErrorCode::BadHandshake).await;
        assert!(e.message.len() < 300, "{} bytes", e.message.len());
        server.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
