//! Where steps run: a fast model that declares a fixed cost steps inline
//! on the event loop serving its session; a slow one, or one whose cost is
//! not fixed, on the compute threads; an inline model that overruns moves
//! to the compute threads, after which a slow step gets its fallback in
//! time again. The thread a step ran on is what each policy saw.

use std::time::Duration;

use fourstock_policy::ModelRegistry;
use fourstock_server::ServerConfig;
use fourstock_tests::client::{hello, within_timeout, TestClient};
use fourstock_tests::fixtures::{frames, FALCO};
use fourstock_tests::policies::{Count, CountingPolicy};
use fourstock_tests::server::{config, TestServer};

const BUDGET_MS: u64 = 20;

/// These tests measure time: they run one at a time, so that they do not
/// take each other's cores on a two-core machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const EVENT_LOOP: &str = "fourstock-io";

fn is_compute(thread: &Option<String>) -> bool {
    thread
        .as_deref()
        .is_some_and(|t| t.starts_with("fourstock-compute-"))
}

/// Plays frames 1 to `count`; every reply must carry
/// step n for frame n, in order (none may be late).
async fn play_on_time(client: &mut TestClient, count: i32) {
    for (i, f) in frames(1, count + 1).iter().enumerate() {
        let reply = client.frame(f).await;
        let output = &reply.outputs[0];
        assert!(!output.fallback, "frame {} was late", reply.frame);
        let c = Count::read(&output.controller).expect("a counting output");
        assert_eq!(
            (c.step, c.frame_bits),
            (i as u32 + 1, Count::of_frame(f.frame))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_fixed_cost_models_step_on_the_event_loop_and_the_rest_on_the_compute_threads() {
    let _alone = ONE_AT_A_TIME.lock().await;
    within_timeout(async {
        let fast = CountingPolicy::new("fast");
        // Fixed cost, but every step takes a quarter of the budget: too slow.
        let every_frame: Vec<i32> = (-200..200).collect();
        let heavy = CountingPolicy::new("heavy")
            .spin_on(every_frame, Duration::from_millis(BUDGET_MS / 4))
            .declaring_fixed_cost(true);
        // Fast, but it does not say its cost is fixed.
        let unsure = CountingPolicy::new("unsure").declaring_fixed_cost(false);
        let threads = [fast.threads(), heavy.threads(), unsure.threads()];
        let mut models = ModelRegistry::single(fast.into_arc());
        models.insert(heavy.into_arc());
        models.insert(unsure.into_arc());
        let server = TestServer::start(models, config(BUDGET_MS)).await;
        for (name, threads) in ["fast", "heavy", "unsure"].iter().zip(&threads) {
            let mut request = hello(&[(1, FALCO)]);
            request.ports[0].model = Some(name.to_string());
            let mut client = TestClient::connect(server.addr).await;
            client.hello(request).await;
            // The heavy model's steps take 5 ms: on time within 20 ms.
            play_on_time(&mut client, 8).await;
            let thread = threads.of(8);
            if *name == "fast" {
                assert_eq!(thread.as_deref(), Some(EVENT_LOOP), "{name}");
            } else {
                assert!(is_compute(&thread), "{name} stepped on {thread:?}");
            }
        }
        server.shutdown().await;
    })
    .await;
}

/// Plays 8 frames of a fast model on a daemon with `config`, shuts the
/// daemon down (the session closed first), and says which thread stepped.
async fn thread_of_a_fast_session(config: ServerConfig) -> Option<String> {
    let fast = CountingPolicy::new("fast");
    let threads = fast.threads();
    let server = TestServer::with_policy(fast.into_arc(), config).await;
    let (mut client, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
    play_on_time(&mut client, 8).await;
    drop(client);
    server.shutdown().await;
    threads.of(8)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_inline_steps_every_model_steps_on_the_compute_threads() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let config = ServerConfig {
        inline_steps: false,
        ..config(BUDGET_MS)
    };
    let thread = within_timeout(thread_of_a_fast_session(config)).await;
    assert!(is_compute(&thread), "{thread:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_model_that_overruns_moves_to_the_compute_threads() {
    let _alone = ONE_AT_A_TIME.lock().await;
    within_timeout(async {
        // Frames 5 to 7 keep the event loop busy for 15 ms each, over half
        // the budget, three batches in a row; frame 20 then sleeps for
        // 300 ms.
        let policy = CountingPolicy::new("turns-slow")
            .spin_on(vec![5, 6, 7], Duration::from_millis(15))
            .slow_on(vec![20], Duration::from_millis(300))
            .declaring_fixed_cost(true);
        let threads = policy.threads();
        let server = TestServer::with_policy(policy.into_arc(), config(BUDGET_MS)).await;
        let (mut client, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        let mut replies = Vec::new();
        for f in frames(1, 61) {
            replies.push(client.frame(&f).await);
        }
        for frame in [5, 6, 7] {
            assert_eq!(
                threads.of(frame).as_deref(),
                Some(EVENT_LOOP),
                "frame {frame}"
            );
        }
        for frame in [8, 20, 60] {
            assert!(
                is_compute(&threads.of(frame)),
                "frame {frame}: {:?}",
                threads.of(frame)
            );
        }
        // Moved to the compute threads, the sleeping step no longer holds the
        // loop: frame 20 gets the fallback within the budget.
        let reply = &replies[19];
        assert_eq!(reply.frame, 20);
        assert!(
            reply.outputs[0].fallback,
            "frame 20 is answered by the fallback"
        );
        assert!(
            reply.outputs[0].server_us < (BUDGET_MS * 1000) as u32 + 10_000,
            "frame 20 answered after {} us",
            reply.outputs[0].server_us
        );
        // Every frame was still stepped once, in order, and the backlog
        // behind frame 20 is gone by the last one.
        let last = &replies[59].outputs[0];
        assert!(!last.fallback, "the last frame is on time again");
        let last = Count::read(&last.controller).expect("a counting output");
        assert_eq!(last.step, 60);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_overrun_in_a_row_keeps_a_model_inline() {
    let _alone = ONE_AT_A_TIME.lock().await;
    within_timeout(async {
        // Two overruns, then an on-time batch, then two more: never three
        // in a row, as a preempted thread or a stolen slice of a virtual
        // CPU would look.
        let policy = CountingPolicy::new("hiccups")
            .spin_on(vec![5, 6, 8, 9], Duration::from_millis(15))
            .declaring_fixed_cost(true);
        let threads = policy.threads();
        let server = TestServer::with_policy(policy.into_arc(), config(BUDGET_MS)).await;
        let (mut client, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        for f in frames(1, 21) {
            client.frame(&f).await;
        }
        for frame in [5, 7, 9, 10, 20] {
            assert_eq!(
                threads.of(frame).as_deref(),
                Some(EVENT_LOOP),
                "frame {frame}"
            );
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_polling_daemon_serves_and_shuts_down() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let config = ServerConfig {
        busy_poll: true,
        ..config(BUDGET_MS)
    };
    // The polling task ends with the last session, so shutdown completes
    // within the timeout.
    let thread = within_timeout(thread_of_a_fast_session(config)).await;
    assert_eq!(thread.as_deref(), Some(EVENT_LOOP));
}
