//! `fourstock health`: a container's HEALTHCHECK. Asks the metrics endpoint
//! of a running `fourstock serve` or `fourstock umi` (`--metrics`, or
//! `FOURSTOCK_METRICS`) for `/healthz` and exits 0 on its `200 ok`, 1 on
//! anything else or nothing within the timeout. Plain HTTP/1.1 over std's
//! TCP, so the probe starts no runtime and needs no shell or curl in the
//! image.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;

#[derive(Args, Debug)]
pub struct HealthArgs {
    /// The metrics endpoint to ask: what `--metrics` serves on.
    #[arg(long, env = "FOURSTOCK_METRICS", default_value = "127.0.0.1:9464")]
    addr: SocketAddr,
    /// Fail when the whole exchange takes longer than this.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
}

/// The most of a reply read: `/healthz` answers three bytes of body.
const MAX_REPLY: u64 = 16 * 1024;

pub fn run(args: HealthArgs) -> anyhow::Result<()> {
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let reply = get_healthz(args.addr, timeout)
        .with_context(|| format!("asking http://{}/healthz", args.addr))?;
    check_reply(&reply).with_context(|| format!("http://{}/healthz", args.addr))?;
    println!("ok");
    Ok(())
}

/// The raw HTTP reply to `GET /healthz`, read until the server closes.
fn get_healthz(addr: SocketAddr, timeout: Duration) -> anyhow::Result<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    let left = |deadline: Instant| {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| anyhow::anyhow!("no answer within {timeout:?}"))
    };
    stream.set_write_timeout(Some(left(deadline)?))?;
    // One write: a request in pieces can meet a reply (and a close) between
    // them.
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut reply = Vec::new();
    let mut limited = (&mut stream).take(MAX_REPLY);
    let mut chunk = [0u8; 1024];
    loop {
        limited.get_mut().set_read_timeout(Some(left(deadline)?))?;
        match limited.read(&mut chunk) {
            Ok(0) => return Ok(reply),
            Ok(n) => reply.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                bail!("no full answer within {timeout:?}")
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Whether a reply is a `200` whose body is `ok`.
fn check_reply(reply: &[u8]) -> anyhow::Result<()> {
    let text = String::from_utf8_lossy(reply);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("not an HTTP reply: {:?}", truncate(&text)))?;
    let status = head.lines().next().unwrap_or_default();
    let code = status.split_whitespace().nth(1);
    if !status.starts_with("HTTP/1.") || code != Some("200") {
        bail!("answered {status:?}");
    }
    if body.trim() != "ok" {
        bail!("answered 200 with {:?}, not ok", truncate(body));
    }
    Ok(())
}

fn truncate(text: &str) -> &str {
    let end = text.char_indices().nth(80).map_or(text.len(), |(at, _)| at);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_200_ok_is_healthy_and_anything_else_is_not() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\n\r\nok\n";
        assert!(check_reply(ok).is_ok());
        assert!(check_reply(b"HTTP/1.1 404 Not Found\r\n\r\nnot found\n").is_err());
        assert!(check_reply(b"HTTP/1.1 200 OK\r\n\r\nbusy\n").is_err());
        assert!(check_reply(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(check_reply(b"").is_err());
    }

    #[test]
    fn a_silent_endpoint_fails_within_the_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepted by the kernel's backlog, never answered.
        let started = Instant::now();
        let got = get_healthz(addr, Duration::from_millis(200));
        assert!(got.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(listener);
    }

    #[test]
    fn nothing_listening_fails() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        assert!(get_healthz(addr, Duration::from_millis(500)).is_err());
    }

    #[test]
    fn asks_for_healthz_and_reads_to_the_close() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") {
                peer.read_exact(&mut byte).unwrap();
                request.push(byte[0]);
            }
            peer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n")
                .unwrap();
            String::from_utf8(request).unwrap()
        });
        let reply = get_healthz(addr, Duration::from_secs(5)).unwrap();
        assert!(check_reply(&reply).is_ok());
        assert!(server
            .join()
            .unwrap()
            .starts_with("GET /healthz HTTP/1.1\r\n"));
    }
}
