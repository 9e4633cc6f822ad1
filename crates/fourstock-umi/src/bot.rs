//! One UMI session from `hello` to `shutdown`, on the socket's reading
//! side.
//!
//! The reader checks every message before anything acts on it: games are
//! started by `new_games` before they are observed, stay in the lane they
//! were first observed on, and are counted against the welcome's
//! `max_games`. It hands `obs` and `end_games` to the owning lane's thread
//! in arrival order, so each lane's replies keep their order while the
//! lanes step in parallel.
//!
//! The bot uses blocking threads, not tokio: one connection, one reader and
//! a thread per lane is the whole concurrency, and a blocked thread wakes
//! sooner than a task.

use std::collections::{HashMap, HashSet};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fourstock_policy::{ModelRegistry, Policy};
use fourstock_proto::melee;
use fourstock_proto::validate::PORTS;
use fourstock_telemetry::{ModelTable, Telemetry};

use crate::error::UmiError;
use crate::lane::{Job, Lane, Start};
use crate::message::{self, ArenaMessage, EndGames, Hello, Info, NewGames, Obs, Ready, Welcome};
use crate::outbox::Outbox;
use crate::served::Served;
use crate::wire;

/// The most lanes a welcome may ask for: each is a thread.
pub const MAX_LANES: u32 = 64;
/// The largest delay UMI allows (the imitation leaderboard's).
pub const MAX_DELAY: u32 = 30;

/// How long the bot waits for the arena's next message before it gives
/// up on a session. umi-conform gives a bot 300 s to get ready; an arena
/// silent three times that long is gone, and a bot left waiting on it
/// would hold its container forever.
pub const ARENA_SILENCE: Duration = Duration::from_secs(900);

/// How long a message may wait for the arena to read. An arena that reads
/// nothing for this long has long since timed the bot out.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who the bot is.
#[derive(Clone, Debug)]
pub struct BotConfig {
    /// The name in `hello`.
    pub name: String,
    /// Serve only this model (`--model`); `None` serves the registry.
    pub model: Option<String>,
    /// Where the bot counts game-frames, steps, resets, games and errors,
    /// as the daemon does; whoever serves `/metrics` holds another
    /// reference.
    pub telemetry: Arc<Telemetry>,
    /// How long the arena may send nothing ([`ARENA_SILENCE`]).
    pub silence_limit: Duration,
    /// How long a message may wait for the arena to read ([`WRITE_TIMEOUT`]).
    pub write_timeout: Duration,
}

impl BotConfig {
    /// A bot named `name` serving the registry, with the default limits.
    pub fn new(name: impl Into<String>, telemetry: Arc<Telemetry>) -> BotConfig {
        BotConfig {
            name: name.into(),
            model: None,
            telemetry,
            silence_limit: ARENA_SILENCE,
            write_timeout: WRITE_TIMEOUT,
        }
    }
}

/// What the reader knows of a live game.
struct Entry {
    policy: Arc<dyn Policy>,
    port: u8,
    /// The lane of its first observation; `None` until then.
    lane: Option<u32>,
}

/// Plays one session on `stream`, until the arena's `shutdown` (`Ok`) or
/// the first failure, which the arena is told of before this returns it.
pub fn play(
    stream: UnixStream,
    registry: &ModelRegistry,
    config: &BotConfig,
) -> Result<(), UmiError> {
    let served = Served::new(registry, config.model.as_deref()).map_err(UmiError::Unplayable)?;
    // Socket options: they hold for the reader's clone as well.
    stream.set_read_timeout(Some(config.silence_limit))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, stream.try_clone()?);
    let outbox = Arc::new(Outbox::new(stream, config.write_timeout)?);
    let silence_limit = config.silence_limit;
    let figures = Arc::new(ModelTable::register(
        &config.telemetry,
        served
            .all()
            .iter()
            .map(|policy| (policy.info().name.as_str(), policy.parameters())),
    ));
    let mut session = Session {
        silence_limit,
        telemetry: config.telemetry.clone(),
        figures,
        served: &served,
        outbox: outbox.clone(),
        lanes: Vec::new(),
        threads: Vec::new(),
        games: HashMap::new(),
        max_games: 0,
        delay: 0,
        warned: HashSet::new(),
        body: Vec::new(),
    };
    let result = session.run(&mut reader, config);
    session.stop();
    if let Err(e) = result {
        outbox.fail(e);
    }
    match outbox.take_failure() {
        Some(e) => {
            config.telemetry.error(e.code());
            Err(e)
        }
        None => Ok(()),
    }
}

struct Session<'a> {
    /// How long a read may wait, to say so when one times out.
    silence_limit: Duration,
    telemetry: Arc<Telemetry>,
    /// Each served model's step figures, shared with the lanes.
    figures: Arc<ModelTable>,
    served: &'a Served<'a>,
    outbox: Arc<Outbox>,
    lanes: Vec<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
    games: HashMap<u32, Entry>,
    max_games: usize,
    /// The delay the arena applies.
    delay: u32,
    /// Models whose trained delay differs from the welcome's, warned of.
    warned: HashSet<String>,
    body: Vec<u8>,
}

impl Session<'_> {
    fn run(&mut self, reader: &mut impl std::io::Read, config: &BotConfig) -> Result<(), UmiError> {
        let characters = self.served.characters();
        let hello = Hello {
            t: "hello",
            umi: message::UMI_VERSION,
            name: &config.name,
            characters: &characters,
            delay: self.served.delay(),
            max_games: None,
            info: Info::default(),
            deterministic: true,
        };
        self.send(&hello)?;
        tracing::info!(name = %config.name, characters, delay = hello.delay, "hello sent");
        let welcome = match self.next(reader)? {
            Some(ArenaMessage::Welcome(w)) => w,
            // The arena turned the bot away after its hello.
            Some(ArenaMessage::Shutdown) | None => return Ok(()),
            Some(other) => return Err(unexpected("welcome", &other)),
        };
        self.begin(&welcome)?;
        for _ in 0..welcome.warmups {
            match self.next(reader)? {
                Some(ArenaMessage::Warmup(obs)) => self.warmup(obs)?,
                Some(ArenaMessage::Shutdown) => return Ok(()),
                Some(other) => return Err(unexpected("warmup", &other)),
                None => return Err(closed()),
            }
        }
        self.send(&Ready { t: "ready" })?;
        tracing::info!("ready");
        loop {
            match self.next(reader)? {
                Some(ArenaMessage::Obs(obs)) => self.obs(obs)?,
                Some(ArenaMessage::NewGames(new)) => self.new_games(new)?,
                Some(ArenaMessage::EndGames(end)) => self.end_games(end)?,
                Some(ArenaMessage::Shutdown) => {
                    tracing::info!("shutdown");
                    return Ok(());
                }
                Some(other) => {
                    return Err(unexpected("obs, new_games, end_games or shutdown", &other))
                }
                None => return Err(closed()),
            }
        }
    }

    /// The next message; `None` when the arena closed the socket.
    fn next(&mut self, reader: &mut impl std::io::Read) -> Result<Option<ArenaMessage>, UmiError> {
        match wire::read_message(reader, &mut self.body) {
            Ok(Some(())) => message::decode(&self.body).map(Some),
            Ok(None) => Ok(None),
            // A lane's failure shut the socket: that failure is the story.
            Err(_) if self.outbox.failed() => Ok(None),
            Err(UmiError::Io(e)) if crate::outbox::timed_out(&e) => Err(UmiError::Stalled(
                format!("sent nothing for {} s", self.silence_limit.as_secs_f64()),
            )),
            Err(e) => Err(e),
        }
    }

    fn send(&mut self, message: &impl serde::Serialize) -> Result<(), UmiError> {
        let mut scratch = Vec::new();
        let mut body = Vec::new();
        self.outbox.send(message, &mut body, &mut scratch)
    }

    /// Checks the session's terms and starts a thread per lane.
    fn begin(&mut self, welcome: &Welcome) -> Result<(), UmiError> {
        if !(1..=MAX_LANES).contains(&welcome.lanes)
            || welcome.max_games == 0
            || welcome.delay > MAX_DELAY
        {
            return Err(UmiError::malformed(
                "welcome",
                format!(
                    "lanes {} (1 to {MAX_LANES}), max_games {} (at least 1), delay {} (0 to {MAX_DELAY})",
                    welcome.lanes, welcome.max_games, welcome.delay
                ),
            ));
        }
        self.max_games = welcome.max_games as usize;
        self.delay = welcome.delay;
        tracing::info!(
            lanes = welcome.lanes,
            max_games = welcome.max_games,
            delay = welcome.delay,
            "welcome"
        );
        for index in 0..welcome.lanes {
            let (jobs, inbox) = mpsc::channel();
            let outbox = self.outbox.clone();
            let lane = Lane::new(
                index,
                outbox.clone(),
                self.served.all(),
                welcome.rng_seed,
                (self.telemetry.clone(), self.figures.clone()),
            );
            let thread = std::thread::Builder::new()
                .name(format!("umi-lane-{index}"))
                .spawn(move || {
                    // A panic is a bug; the arena still hears of it.
                    let ran =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lane.run(inbox)));
                    if let Err(panic) = ran {
                        let reason = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "a panic".into());
                        outbox.fail(UmiError::Internal {
                            lane: index,
                            reason,
                        });
                    }
                })?;
            self.lanes.push(jobs);
            self.threads.push(thread);
        }
        Ok(())
    }

    fn lane(&self, obs: &Obs, kind: &str) -> Result<&Sender<Job>, UmiError> {
        self.lanes.get(obs.lane as usize).ok_or_else(|| {
            UmiError::malformed(
                kind,
                format!(
                    "seq {}: lane {} of a session with {} lanes",
                    obs.seq,
                    obs.lane,
                    self.lanes.len()
                ),
            )
        })
    }

    fn warmup(&mut self, obs: Obs) -> Result<(), UmiError> {
        let (done, finished) = mpsc::channel();
        let lane = self.lane(&obs, "warmup")?;
        // A lane that is gone has failed, and said so.
        let _ = lane.send(Job::Warmup { obs, done });
        finished.recv().map_err(|_| closed())
    }

    fn obs(&mut self, obs: Obs) -> Result<(), UmiError> {
        let lane = obs.lane;
        self.lane(&obs, "obs")?;
        let mut starts = Vec::new();
        let mut seen = HashSet::with_capacity(obs.games.len());
        for &game in &obs.games {
            if !seen.insert(game) {
                return Err(UmiError::Game(format!(
                    "obs seq {}: game {game} appears twice",
                    obs.seq
                )));
            }
            let entry = self
                .games
                .get_mut(&game)
                .ok_or_else(|| UmiError::UnknownGame {
                    context: format!("obs seq {}", obs.seq),
                    game,
                })?;
            match entry.lane {
                Some(held) if held != lane => {
                    return Err(UmiError::Game(format!(
                        "obs seq {}: game {game} moved from lane {held} to lane {lane}",
                        obs.seq
                    )))
                }
                Some(_) => {}
                None => {
                    entry.lane = Some(lane);
                    starts.push(Start {
                        game,
                        policy: entry.policy.clone(),
                        port: entry.port,
                    });
                }
            }
        }
        let read_at = Instant::now();
        let _ = self.lanes[lane as usize].send(Job::Obs {
            obs,
            starts,
            read_at,
        });
        Ok(())
    }

    fn new_games(&mut self, new: NewGames) -> Result<(), UmiError> {
        for info in new.games {
            if self.games.contains_key(&info.game) {
                return Err(UmiError::Game(format!("game {} started twice", info.game)));
            }
            if self.games.len() >= self.max_games {
                return Err(UmiError::Game(format!(
                    "game {} would be more than max_games {} at once",
                    info.game, self.max_games
                )));
            }
            if !PORTS.contains(&info.port) {
                return Err(UmiError::malformed(
                    "new_games",
                    format!("game {}: port {} (1 to 4)", info.game, info.port),
                ));
            }
            let character = melee::internal_by_libmelee_name(&info.character)
                .and_then(melee::external_character)
                .ok_or_else(|| {
                    UmiError::Unplayable(format!(
                        "new_games: game {}: unknown character {:?}",
                        info.game, info.character
                    ))
                })?;
            let policy = self.served.choose(info.port, character, self.delay);
            let name = &policy.info().name;
            if policy.info().delay != self.delay && self.warned.insert(name.clone()) {
                tracing::warn!(
                    model = %name,
                    trained = policy.info().delay,
                    welcome = self.delay,
                    "the arena plays at another delay than this model was trained for; playing anyway"
                );
            }
            tracing::debug!(game = info.game, character = %info.character, model = %name, "new game");
            self.telemetry.session_opened();
            self.games.insert(
                info.game,
                Entry {
                    policy,
                    port: info.port,
                    lane: None,
                },
            );
        }
        Ok(())
    }

    fn end_games(&mut self, end: EndGames) -> Result<(), UmiError> {
        let mut by_lane: HashMap<u32, Vec<u32>> = HashMap::new();
        for game in end.games {
            let entry = self
                .games
                .remove(&game.game)
                .ok_or_else(|| UmiError::UnknownGame {
                    context: "end_games".into(),
                    game: game.game,
                })?;
            self.telemetry.session_closed();
            if let Some(lane) = entry.lane {
                by_lane.entry(lane).or_default().push(game.game);
            }
        }
        for (lane, games) in by_lane {
            let _ = self.lanes[lane as usize].send(Job::End(games));
        }
        Ok(())
    }

    /// Hangs up on the lanes and waits for them to finish what they hold.
    fn stop(&mut self) {
        self.lanes.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn unexpected(expected: &'static str, got: &ArenaMessage) -> UmiError {
    UmiError::Unexpected {
        expected,
        got: got.kind().to_string(),
    }
}

fn closed() -> UmiError {
    UmiError::Io(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "the arena closed the connection without a shutdown",
    ))
}
