//! Running out of file descriptors does not stop the daemon: an accept
//! that fails for want of one is retried for as long as the shortage
//! lasts, and the connection that waited in the queue is then served.
//!
//! This file holds one test: it lowers the open-file limit of its whole
//! process, which would starve any test running beside it.

use std::fs::File;

use fourstock_client::Client;
use fourstock_tests::client::{hello, within_timeout};
use fourstock_tests::fixtures::{frames, FALCO};
use fourstock_tests::metrics::counted;
use fourstock_tests::policies::small_lstm;
use fourstock_tests::server::{config, TestServer};
use tokio::net::TcpStream;

fn open_files_limit() -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct given.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    limit
}

fn set_open_files_limit(limit: &libc::rlimit) {
    // SAFETY: setrlimit reads only the struct given.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, limit) }, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_waiting_out_a_descriptor_shortage_is_served() {
    within_timeout(async {
        let config = config(1000);
        let telemetry = config.telemetry.clone();
        let server = TestServer::with_policy(small_lstm("tiny", 3), config).await;
        // A first session, so the daemon is wholly up (its event loops
        // hold descriptors of their own) before the descriptors run out.
        let (first, _) = Client::handshake(server.addr, hello(&[(1, FALCO)]))
            .await
            .expect("a first session");
        drop(first);
        counted(&telemetry, "fourstock_sessions_closed_total", 1).await;

        // Take every descriptor the (lowered) limit allows, then free one
        // for the client's socket: the daemon has none left to accept it.
        let was = open_files_limit();
        let open = std::fs::read_dir("/proc/self/fd").expect("fds").count() as u64;
        set_open_files_limit(&libc::rlimit {
            rlim_cur: open + 32,
            rlim_max: was.rlim_max,
        });
        let mut taken = Vec::new();
        loop {
            match File::open("/dev/null") {
                Ok(file) => taken.push(file),
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
                Err(e) => panic!("open /dev/null: {e}"),
            }
        }
        taken.pop();
        let stream = TcpStream::connect(server.addr)
            .await
            .expect("connect: the kernel queues it for the daemon");

        // More failed accepts than the old back-off allowed before it gave
        // up (eleven, about a second): the daemon keeps trying.
        counted(&telemetry, "fourstock_accept_errors_total", 13).await;
        drop(taken);
        set_open_files_limit(&was);

        let mut client = Client::from_stream(stream).expect("client");
        client.hello(hello(&[(1, FALCO)])).await.expect("welcome");
        for frame in frames(0, 5) {
            let number = frame.frame;
            client
                .send(&fourstock_proto::ClientMessage::Frame(frame))
                .await
                .expect("send");
            match client.recv().await.expect("reply") {
                fourstock_proto::ServerMessage::Reply(reply) => assert_eq!(reply.frame, number),
                other => panic!("expected a reply to frame {number}, got {other:?}"),
            }
        }
        server.shutdown().await;
    })
    .await;
}
