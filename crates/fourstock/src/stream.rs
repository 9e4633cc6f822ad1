//! Streams one game to a daemon as an emulator would, and checks every
//! reply: the frame number is echoed, and there is exactly one reply per
//! frame. Used by `fourstock replay`.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fourstock_client::Client;
use fourstock_proto::{ClientMessage, FrameReply, Hello, PortRequest, ServerMessage, Welcome};
use hdrhistogram::Histogram;

/// Melee's frame period.
pub const FRAME: Duration = Duration::from_nanos(16_666_667);

/// How a game is paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacing {
    /// One frame every 1/60 s, as the console runs.
    RealTime,
    /// The next frame as soon as the previous reply arrives.
    Fast,
}

/// What streaming one game showed.
pub struct GameReport {
    pub frames: u64,
    /// Frames on which the daemon reported a reset of any port.
    pub resets: u64,
    pub late: u64,
    /// Round trip of each frame, send to reply, in microseconds.
    pub round_trip_us: Histogram<u64>,
    pub elapsed: Duration,
    pub welcome: Welcome,
    /// Every reply, kept only when asked for.
    pub replies: Vec<FrameReply>,
}

/// The ports to control and their characters, from a game's MatchStart;
/// every player's port when `ports` is empty. Each asks for `model` and
/// `player_name` (`None`: the daemon's choice, the model's default).
pub fn port_requests(
    messages: &[ClientMessage],
    ports: &[u8],
    model: Option<&str>,
    player_name: Option<&str>,
) -> anyhow::Result<Vec<PortRequest>> {
    let Some(ClientMessage::MatchStart(start)) = messages.first() else {
        bail!("the game does not begin with a MatchStart");
    };
    let every: Vec<u8> = start.players.iter().map(|p| p.port).collect();
    let ports = if ports.is_empty() { &every } else { ports };
    ports
        .iter()
        .map(|&port| {
            let player = start
                .players
                .iter()
                .find(|p| p.port == port)
                .with_context(|| format!("no player on port {port} in this game"))?;
            Ok(PortRequest {
                port,
                character: player.character,
                model: model.map(str::to_string),
                player_name: player_name.map(str::to_string),
            })
        })
        .collect()
}

/// The longest one connection attempt may take.
const CONNECT_ATTEMPT: Duration = Duration::from_secs(5);

/// Connects to the daemon at `target` (`HOST:PORT`, a name such as a
/// compose service's or an address), trying again every 250 ms until
/// `deadline` while the name does not resolve or nothing listens yet: a
/// client started beside its daemon waits for it.
pub async fn connect(target: &str, deadline: Instant) -> anyhow::Result<Client> {
    loop {
        let attempt = async {
            let addr = tokio::net::lookup_host(target)
                .await
                .with_context(|| format!("resolving {target}"))?
                .next()
                .with_context(|| format!("{target} resolves to no address"))?;
            Client::connect(addr).await.map_err(anyhow::Error::from)
        };
        // An address that drops SYNs would hold one attempt for minutes.
        let attempt = async {
            tokio::time::timeout(CONNECT_ATTEMPT, attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(anyhow::anyhow!(
                        "no answer from {target} within {CONNECT_ATTEMPT:?}"
                    ))
                })
        };
        match attempt.await {
            Ok(client) => return Ok(client),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Streams one game's messages (MatchStart, frames, MatchEnd) on `link`,
/// a fresh connection, opening with `hello`.
pub async fn stream_game(
    mut link: Client,
    messages: &[ClientMessage],
    hello: Hello,
    pacing: Pacing,
    keep_replies: bool,
) -> anyhow::Result<GameReport> {
    let welcome = link.hello(hello).await?;
    let mut report = GameReport {
        frames: 0,
        resets: 0,
        late: 0,
        round_trip_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        elapsed: Duration::ZERO,
        welcome,
        replies: Vec::new(),
    };
    let start = Instant::now();
    let mut next_due = tokio::time::Instant::now();
    for message in messages {
        let ClientMessage::Frame(frame) = message else {
            link.send(message).await?;
            continue;
        };
        if pacing == Pacing::RealTime {
            tokio::time::sleep_until(next_due).await;
            next_due += FRAME;
        }
        let sent = Instant::now();
        link.send(message).await?;
        let reply = match link.recv().await? {
            ServerMessage::Reply(reply) => reply,
            other => bail!("frame {}: expected a Reply, got {other:?}", frame.frame),
        };
        let round_trip = sent.elapsed();
        if reply.frame != frame.frame {
            bail!(
                "frame {} answered with frame {}: replies out of step",
                frame.frame,
                reply.frame
            );
        }
        if reply.outputs.len() != report.welcome.ports.len() {
            bail!(
                "frame {}: {} outputs for {} controlled ports",
                frame.frame,
                reply.outputs.len(),
                report.welcome.ports.len()
            );
        }
        report.frames += 1;
        report.resets += reply.outputs.iter().any(|o| o.reset) as u64;
        report.late += reply.outputs.iter().any(|o| o.fallback) as u64;
        report
            .round_trip_us
            .record((round_trip.as_micros() as u64).clamp(1, 60_000_000))?;
        if keep_replies {
            report.replies.push(reply);
        }
    }
    report.elapsed = start.elapsed();
    // Exactly one reply per frame: nothing more may be waiting.
    let unread = link.finish().await?;
    if unread > 0 {
        bail!("the daemon sent {unread} bytes more than one reply per frame");
    }
    Ok(report)
}
