//! Truncated backpropagation through time: `lanes` parallel streams of
//! sequences, cut into windows of `steps` frames. A lane's hidden state is
//! carried from one window to the next; a lane that finishes a sequence
//! starts the next one at once, and that sample carries a reset, as does
//! every frame on which the daemon would reset.

use fourstock_recurrent::action;
use fourstock_recurrent::featurizer::Featurizer;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::sequence::Sequence;

/// One window of `steps` x `lanes` samples, time-major (row `t * lanes + lane`).
pub struct Window {
    pub steps: usize,
    pub lanes: usize,
    /// Feature rows, `steps * lanes * featurizer.size()`.
    pub features: Vec<f32>,
    /// 0.0 where the state is reset before the step, else 1.0.
    pub keep: Vec<f32>,
    /// Button targets as 0/1, 8 per row.
    pub buttons: Vec<f32>,
    /// Stick classes, 4 per row.
    pub sticks: Vec<u32>,
    /// Shoulder classes, 1 per row.
    pub shoulder: Vec<u32>,
}

/// Endless seeded streams of sequences, cut into windows.
pub struct Windows<'a> {
    sequences: &'a [Sequence],
    featurizer: Featurizer,
    steps: usize,
    /// (sequence, next sample) per lane.
    lanes: Vec<(usize, usize)>,
    order: Vec<usize>,
    next: usize,
    epochs: usize,
    rng: rand::rngs::StdRng,
}

impl<'a> Windows<'a> {
    /// Panics if `sequences` holds no sample.
    pub fn new(
        sequences: &'a [Sequence],
        featurizer: Featurizer,
        lanes: usize,
        steps: usize,
        seed: u64,
    ) -> Windows<'a> {
        assert!(
            sequences.iter().any(|s| !s.is_empty()),
            "no samples to train on"
        );
        let mut windows = Windows {
            sequences,
            featurizer,
            steps,
            lanes: Vec::with_capacity(lanes),
            order: Vec::new(),
            next: 0,
            epochs: 0,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
        };
        for _ in 0..lanes {
            let s = windows.next_sequence();
            windows.lanes.push((s, 0));
        }
        windows
    }

    /// Passes over the sequence list begun so far.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    fn next_sequence(&mut self) -> usize {
        loop {
            if self.next == self.order.len() {
                self.order = (0..self.sequences.len()).collect();
                self.order.shuffle(&mut self.rng);
                self.next = 0;
                self.epochs += 1;
            }
            let s = self.order[self.next];
            self.next += 1;
            if !self.sequences[s].is_empty() {
                return s;
            }
        }
    }

    /// The next window.
    pub fn next_window(&mut self) -> Window {
        let lanes = self.lanes.len();
        let rows = self.steps * lanes;
        let width = self.featurizer.size();
        let mut w = Window {
            steps: self.steps,
            lanes,
            features: vec![0.0; rows * width],
            keep: vec![1.0; rows],
            buttons: Vec::with_capacity(rows * action::BUTTONS.len()),
            sticks: Vec::with_capacity(rows * action::STICK_AXES),
            shoulder: Vec::with_capacity(rows),
        };
        // Fill time-major; lanes advance in lockstep.
        let mut cursors = std::mem::take(&mut self.lanes);
        for t in 0..self.steps {
            for (lane, cursor) in cursors.iter_mut().enumerate() {
                if cursor.1 >= self.sequences[cursor.0].len() {
                    *cursor = (self.next_sequence(), 0);
                }
                let (s, i) = *cursor;
                let sequence = &self.sequences[s];
                let row = t * lanes + lane;
                self.featurizer
                    .write(
                        sequence.frame(i),
                        sequence.port,
                        &mut w.features[row * width..(row + 1) * width],
                    )
                    .expect("a sequence's frames hold its port");
                if sequence.reset(i) {
                    w.keep[row] = 0.0;
                }
                push_target(&mut w, sequence, i);
                cursor.1 += 1;
            }
        }
        self.lanes = cursors;
        w
    }
}

fn push_target(w: &mut Window, sequence: &Sequence, i: usize) {
    let target = sequence.target(i);
    w.buttons
        .extend(target.buttons.iter().map(|&b| b as u8 as f32));
    w.sticks.extend(target.sticks.iter().map(|&c| c as u32));
    w.shoulder.push(target.shoulder as u32);
}
