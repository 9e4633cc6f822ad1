//! Test-only policies.
//!
//! [`CountingPolicy`] makes the daemon's bookkeeping visible: its state is a
//! step counter, and every output says which step of its state it is, which
//! frame it saw and which player it imitates. It can be made slow on chosen
//! frames, to force late replies. Left fast it declares a fixed cost, so a
//! daemon steps it inline on an event loop; made slow it does not, so it
//! steps on the compute threads. [`small_lstm`] is a real candle policy,
//! small enough for tests; [`write_small_slippi_model`] writes a real
//! slippi-ai model folder with random weights.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use candle_core::{Device, Tensor};
use fourstock_policy::{
    PlayerName, Policy, PolicyError, PolicyInfo, PolicyState, ResetRule, StepRequest,
};
use fourstock_proto::{Buttons, ControllerState};
use fourstock_recurrent::{CellKind, FeatureConfig, PolicyConfig, RecurrentPolicy};
use rand::SeedableRng;

/// What a [`CountingPolicy`] output says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    /// Steps taken since the state was fresh, counting this one (1 = first).
    pub step: u32,
    /// The frame number's low 12 bits.
    pub frame_bits: u16,
    /// The name code the state carried (below 32), if any.
    pub name_code: Option<u32>,
}

impl Count {
    pub fn read(c: &ControllerState) -> Option<Count> {
        if *c == ControllerState::NEUTRAL {
            return None;
        }
        let lo = (c.main_x * 16.0).round() as u32;
        let hi = (c.main_y * 16.0).round() as u32;
        Some(Count {
            step: hi * 17 + lo,
            frame_bits: c.buttons.0,
            name_code: (c.c_y != 0.5).then(|| (c.c_y * 64.0).round() as u32),
        })
    }

    pub fn of_frame(frame: i32) -> u16 {
        (frame.rem_euclid(4096)) as u16
    }
}

pub struct CountingPolicy {
    info: PolicyInfo,
    slow_frames: Vec<i32>,
    slow_for: Duration,
    /// Frames whose step keeps the CPU busy for `spin_for`.
    spin_frames: Vec<i32>,
    spin_for: Duration,
    /// The thread each step ran on, with the first frame of its batch.
    threads: StepThreads,
    /// What it declares of its cost, if not the truth (see `into_arc`).
    declared_fixed_cost: Option<bool>,
    /// The player names it offers, the default first.
    names: Vec<PlayerName>,
}

impl CountingPolicy {
    pub fn new(name: &str) -> CountingPolicy {
        CountingPolicy {
            info: PolicyInfo {
                name: name.into(),
                cell: "counter".into(),
                input_size: 0,
                hidden_sizes: vec![1],
                delay: 0,
                reset: ResetRule::default(),
                characters: Vec::new(),
                // Set by `into_arc`: fixed unless made slow on some frames.
                fixed_cost: true,
            },
            slow_frames: Vec::new(),
            slow_for: Duration::ZERO,
            spin_frames: Vec::new(),
            spin_for: Duration::ZERO,
            threads: StepThreads::default(),
            declared_fixed_cost: None,
            names: Vec::new(),
        }
    }

    /// Offers these (name, code) players, the first by default, as a
    /// slippi-ai policy does; codes must be below 32.
    pub fn with_player_names(mut self, names: &[(&str, u32)]) -> Self {
        assert!(names.iter().all(|&(_, code)| code < 32));
        self.names = names
            .iter()
            .map(|&(name, code)| PlayerName {
                name: name.into(),
                code,
            })
            .collect();
        self
    }

    /// Made for these characters (external ids), for the model choice.
    pub fn for_characters(mut self, characters: Vec<u8>) -> Self {
        self.info.characters = characters;
        self
    }

    pub fn with_delay(mut self, delay: u32) -> Self {
        self.info.delay = delay;
        self
    }

    pub fn with_reset(mut self, reset: ResetRule) -> Self {
        self.info.reset = reset;
        self
    }

    /// Steps on these frame numbers take `slow_for` (a stand-in for a
    /// policy too big for the budget).
    pub fn slow_on(mut self, frames: Vec<i32>, slow_for: Duration) -> Self {
        self.slow_frames = frames;
        self.slow_for = slow_for;
        self
    }

    /// Steps on these frame numbers keep the CPU busy for `spin_for`,
    /// rather than sleeping: a policy that turned slow.
    pub fn spin_on(mut self, frames: Vec<i32>, spin_for: Duration) -> Self {
        self.spin_frames = frames;
        self.spin_for = spin_for;
        self
    }

    /// Declares its cost fixed or not ([`PolicyInfo::fixed_cost`]) whatever
    /// it does. Left alone, it declares a fixed cost unless it is slow on
    /// some frames, so a daemon steps a fast one inline and a slow one on
    /// the compute threads.
    pub fn declaring_fixed_cost(mut self, fixed: bool) -> Self {
        self.declared_fixed_cost = Some(fixed);
        self
    }

    /// Where its steps run, readable after the policy is handed over.
    pub fn threads(&self) -> StepThreads {
        self.threads.clone()
    }

    pub fn into_arc(mut self) -> Arc<dyn Policy> {
        self.info.fixed_cost = self
            .declared_fixed_cost
            .unwrap_or(self.slow_frames.is_empty() && self.spin_frames.is_empty());
        Arc::new(self)
    }
}

impl Policy for CountingPolicy {
    fn info(&self) -> &PolicyInfo {
        &self.info
    }

    fn initial_state(&self, seed: u64) -> PolicyState {
        PolicyState {
            tensors: vec![Tensor::new(&[0u32], &Device::Cpu).expect("a counter tensor")],
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            name_code: self.names.first().map(|p| p.code),
            extras: None,
        }
    }

    fn player_name(&self, requested: Option<&str>) -> Result<Option<PlayerName>, String> {
        match requested {
            None => Ok(self.names.first().cloned()),
            Some(name) => match self.names.iter().find(|p| p.name == name) {
                Some(player) => Ok(Some(player.clone())),
                None => Err(format!("model {:?} has no player {name:?}", self.info.name)),
            },
        }
    }

    fn step(&self, batch: &mut [StepRequest<'_>]) -> Result<Vec<ControllerState>, PolicyError> {
        if let Some(first) = batch.first() {
            self.threads.record(first.frame.frame);
        }
        if batch
            .iter()
            .any(|r| self.slow_frames.contains(&r.frame.frame))
        {
            std::thread::sleep(self.slow_for);
        }
        if batch
            .iter()
            .any(|r| self.spin_frames.contains(&r.frame.frame))
        {
            // CPU time, not wall time: the daemon judges an inline step by
            // the CPU it took, and on a busy machine a wall-clock spin
            // gets only part of a core.
            let started = thread_cpu_time();
            while thread_cpu_time() - started < self.spin_for {
                std::hint::spin_loop();
            }
        }
        let mut outputs = Vec::with_capacity(batch.len());
        for request in batch.iter_mut() {
            if request.frame.player(request.port).is_none() {
                return Err(PolicyError::MissingPort(request.port));
            }
            let step = request.state.tensors[0].to_vec1::<u32>()?[0] + 1;
            request.state.tensors[0] = Tensor::new(&[step], &Device::Cpu)?;
            outputs.push(ControllerState {
                buttons: Buttons(Count::of_frame(request.frame.frame)),
                main_x: (step % 17) as f32 / 16.0,
                main_y: ((step / 17) % 17) as f32 / 16.0,
                c_y: request.state.name_code.map_or(0.5, |c| c as f32 / 64.0),
                ..ControllerState::NEUTRAL
            });
        }
        Ok(outputs)
    }
}

/// The name of the thread each step of a policy ran on, by the frame
/// number that led its batch.
#[derive(Clone, Default)]
pub struct StepThreads(Arc<std::sync::Mutex<Vec<(i32, String)>>>);

impl StepThreads {
    fn record(&self, frame: i32) {
        let name = std::thread::current().name().unwrap_or("").to_string();
        self.0.lock().unwrap().push((frame, name));
    }

    /// The thread that stepped `frame` (the last time it led a batch).
    pub fn of(&self, frame: i32) -> Option<String> {
        let steps = self.0.lock().unwrap();
        steps
            .iter()
            .rev()
            .find(|(f, _)| *f == frame)
            .map(|(_, name)| name.clone())
    }
}

/// A real, untrained LSTM policy, small enough to step quickly in tests.
pub fn small_lstm(name: &str, seed: u64) -> Arc<dyn Policy> {
    let config = PolicyConfig {
        name: name.into(),
        description: "test model".into(),
        trained: false,
        cell: CellKind::Lstm,
        hidden_sizes: vec![32, 16],
        features: FeatureConfig {
            speeds: true,
            opponents: 1,
        },
        delay: 0,
        reset: ResetRule::default(),
        decoding: Default::default(),
        characters: Vec::new(),
    };
    Arc::new(RecurrentPolicy::initialize(config, seed).expect("a small LSTM"))
}

/// Writes a small slippi-ai model, seeded random weights, into `dir/NAME/`
/// as `fourstock import slippi-ai` would: a 1-layer `tx_like` core of 16,
/// imitating `names` (name, code below 16), the first by default.
pub fn write_small_slippi_model(dir: &Path, name: &str, names: &[(&str, u32)], seed: u64) {
    use fourstock_slippi::config::{CoreConfig, HeadConfig};
    let base = fourstock_slippi::timing::practical_config(name);
    let config = fourstock_slippi::SlippiConfig {
        description: "random weights, for tests".into(),
        core: CoreConfig {
            hidden_size: 16,
            num_layers: 1,
            ..base.core
        },
        head: HeadConfig {
            residual_size: 8,
            component_depth: 1,
        },
        name_map: names
            .iter()
            .map(|&(name, code)| (name.to_string(), code))
            .collect::<BTreeMap<_, _>>(),
        player_name: names.first().map(|&(name, _)| name.to_string()),
        ..base
    };
    let tensors = fourstock_slippi::weights::random_tensors(&config, seed);
    fourstock_slippi::SlippiModel::write_dir(&dir.join(name), &config, &tensors)
        .expect("writing a small slippi-ai model");
}

/// The CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill.
    let failed = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } != 0;
    assert!(
        !failed,
        "CLOCK_THREAD_CPUTIME_ID: {}",
        std::io::Error::last_os_error()
    );
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}
