//! A daemon on an ephemeral loopback port, in this process.

use std::net::SocketAddr;
use std::sync::Arc;

use fourstock_policy::{ModelRegistry, Policy};
use fourstock_server::{ServerConfig, ServerError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running daemon; shut it down with [`TestServer::shutdown`].
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl TestServer {
    pub async fn start(models: ModelRegistry, config: ServerConfig) -> TestServer {
        TestServer::start_on("127.0.0.1:0", models, config).await
    }

    /// A daemon listening on `bind` (such as `0.0.0.0:0`); [`TestServer::addr`]
    /// reaches it through loopback.
    pub async fn start_on(bind: &str, models: ModelRegistry, config: ServerConfig) -> TestServer {
        configure_threads();
        let listener = TcpListener::bind(bind).await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(fourstock_server::run(listener, models, config, async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// A daemon serving one policy as its default.
    pub async fn with_policy(policy: Arc<dyn Policy>, config: ServerConfig) -> TestServer {
        TestServer::start(ModelRegistry::single(policy), config).await
    }

    /// Signals shutdown and waits for every session to close.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task
            .await
            .expect("server task")
            .expect("the server ran");
    }
}

/// One thread per matmul, as the daemon's main sets it (see fourstock's main.rs).
pub fn configure_threads() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            std::env::set_var("RAYON_NUM_THREADS", "1");
        }
    });
}

/// Config for tests: a roomy budget unless a test is about the budget.
pub fn config(budget_ms: u64) -> ServerConfig {
    ServerConfig {
        budget: std::time::Duration::from_millis(budget_ms),
        compute_threads: 2,
        ..ServerConfig::default()
    }
}
