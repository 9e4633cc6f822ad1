//! The event loops: a fixed set of threads, by default one per core, each
//! running a single-threaded tokio runtime that serves its share of the
//! connections from handshake to close.
//!
//! A connection stays on the loop it was given, the one serving the
//! fewest sessions when it arrived. Everything a session does happens on
//! that thread: reading, stepping inline models (see `stepper`), the
//! fallback timers and writing. Nothing per frame crosses threads except
//! the jobs of models that step on the compute threads. A loop ends once
//! its intake is closed and its last session has closed.
//!
//! With `busy_poll` a loop never sleeps: a task that only yields keeps it
//! polling its sockets, so a frame is read the moment it lands, at the
//! price of a core kept busy. That is for one bot beside Dolphin on a
//! machine whose idle cores wake slowly, not for a shared ladder machine.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::task::LocalSet;
use tracing::{error, info_span, Instrument};

use crate::handshake;
use crate::shared::Shared;
use crate::shutdown::Shutdown;
use crate::stepper::Stepper;

/// An accepted connection on its way to a loop, with what it holds while
/// it lives: a place under the connection limit, and the sender whose
/// drop tells the listener it has closed.
pub(crate) struct Arrival {
    pub(crate) stream: std::net::TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) shutdown: Shutdown,
    pub(crate) permit: OwnedSemaphorePermit,
    pub(crate) done: mpsc::Sender<()>,
}

struct Loop {
    intake: mpsc::UnboundedSender<Arrival>,
    /// Sessions on this loop now.
    live: Arc<AtomicUsize>,
    thread: JoinHandle<()>,
}

/// The running loops.
pub(crate) struct EventLoops {
    loops: Vec<Loop>,
}

impl EventLoops {
    /// Starts `count` loops (at least one).
    pub(crate) fn start(count: usize, shared: &Arc<Shared>) -> std::io::Result<EventLoops> {
        let mut loops = Vec::new();
        for _ in 0..count.max(1) {
            let (intake, arrivals) = mpsc::unbounded_channel();
            let live = Arc::new(AtomicUsize::new(0));
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let shared = shared.clone();
            let counted = live.clone();
            let thread = std::thread::Builder::new()
                .name("fourstock-io".into())
                .spawn(move || {
                    if let Some(hook) = &shared.config.on_loop_start {
                        (hook.0)();
                    }
                    serve(runtime, shared, arrivals, counted)
                })?;
            loops.push(Loop {
                intake,
                live,
                thread,
            });
        }
        Ok(EventLoops { loops })
    }

    /// Hands a connection to the loop serving the fewest sessions.
    pub(crate) fn assign(&self, arrival: Arrival) {
        let Some(chosen) = self
            .loops
            .iter()
            .min_by_key(|l| l.live.load(Ordering::Relaxed))
        else {
            return;
        };
        chosen.live.fetch_add(1, Ordering::Relaxed);
        if chosen.intake.send(arrival).is_err() {
            chosen.live.fetch_sub(1, Ordering::Relaxed);
            error!("an event loop has stopped: a connection was dropped");
        }
    }

    /// Closes every intake and waits for each loop's sessions to close.
    pub(crate) fn join(self) {
        let threads: Vec<_> = self
            .loops
            .into_iter()
            .map(|l| {
                drop(l.intake);
                l.thread
            })
            .collect();
        for thread in threads {
            if thread.join().is_err() {
                error!("an event loop panicked");
            }
        }
    }
}

/// One loop's thread: serves arrivals until the intake closes, then runs
/// until its last session is done.
fn serve(
    runtime: tokio::runtime::Runtime,
    shared: Arc<Shared>,
    mut arrivals: mpsc::UnboundedReceiver<Arrival>,
    live: Arc<AtomicUsize>,
) {
    let local = LocalSet::new();
    let stepper = Stepper::new(shared.clone());
    let closing = Rc::new(Cell::new(false));
    if shared.config.busy_poll {
        let (closing, live) = (closing.clone(), live.clone());
        local.spawn_local(async move {
            // Each yield lets the loop poll its sockets without waiting.
            while !(closing.get() && live.load(Ordering::Relaxed) == 0) {
                tokio::task::yield_now().await;
            }
        });
    }
    local.block_on(&runtime, async {
        while let Some(arrival) = arrivals.recv().await {
            let Arrival {
                stream,
                peer,
                shutdown,
                permit,
                done,
            } = arrival;
            let shared = shared.clone();
            let stepper = stepper.clone();
            let live = live.clone();
            let span = info_span!("session", %peer);
            tokio::task::spawn_local(
                async move {
                    match tokio::net::TcpStream::from_std(stream) {
                        Ok(stream) => {
                            handshake::serve(stream, shared, stepper, shutdown, permit).await
                        }
                        Err(e) => error!("registering a connection: {e}"),
                    }
                    live.fetch_sub(1, Ordering::Relaxed);
                    drop(done);
                }
                .instrument(span),
            );
        }
    });
    // The intake is closed: finish the sessions still open.
    closing.set(true);
    runtime.block_on(local);
}
