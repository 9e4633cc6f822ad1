//! One port's play through one game: the frames it saw, where the daemon
//! would reset its recurrent state, and the controller it held `delay`
//! frames later, which is what a policy stepping on frame t must output.

use std::sync::Arc;

use fourstock_policy::{Lifecycle, ResetRule, Verdict};
use fourstock_proto::{ClientMessage, Frame, PlayerFrame};

use crate::target::Target;

/// One port of one game, as training samples: sample t is frame t seen
/// from `port`, paired with that port's controller on frame t + delay.
#[derive(Clone, Debug)]
pub struct Sequence {
    /// The replay file it came from.
    pub file: String,
    pub port: u8,
    /// External id of the character chosen for the port.
    pub character: u8,
    /// Who played the port, for splits by player: see
    /// the dataset's `player_key`. The file name until set.
    pub player: String,
    /// Whether the frames are the game's left/right mirror image.
    pub mirrored: bool,
    frames: Arc<Vec<Frame>>,
    /// Frames the daemon steps, in order (rollback re-sends are not).
    stepped: Vec<usize>,
    /// `resets[t]`: the daemon resets this port's state before stepping sample t.
    resets: Vec<bool>,
    delay: usize,
}

impl Sequence {
    /// The sequence of `port` over a game's messages, as a daemon serving a
    /// policy with `delay` and `rule` would step it: the daemon's own
    /// [`Lifecycle`] decides which frames step and which reset. Ends before
    /// the first frame that lacks the port.
    pub fn new(
        file: String,
        port: u8,
        character: u8,
        messages: &[ClientMessage],
        delay: u32,
        rule: ResetRule,
    ) -> Sequence {
        let frames: Vec<Frame> = messages
            .iter()
            .filter_map(|m| match m {
                ClientMessage::Frame(f) => Some(f.clone()),
                _ => None,
            })
            .collect();
        Sequence::from_frames(
            file,
            port,
            character,
            messages,
            Arc::new(frames),
            delay,
            rule,
        )
    }

    /// As [`Sequence::new`], sharing a game's frames between its ports;
    /// `frames` must be the frames of `messages`, in order.
    pub(crate) fn from_frames(
        file: String,
        port: u8,
        character: u8,
        messages: &[ClientMessage],
        frames: Arc<Vec<Frame>>,
        delay: u32,
        rule: ResetRule,
    ) -> Sequence {
        let mut life = Lifecycle::new();
        let mut stepped = Vec::with_capacity(frames.len());
        let mut resets = Vec::with_capacity(frames.len());
        let mut index = 0;
        'messages: for message in messages {
            match message {
                ClientMessage::MatchStart(_) => life.match_start(),
                ClientMessage::MatchEnd(_) => life.match_end(),
                ClientMessage::Frame(frame) => {
                    let at = index;
                    index += 1;
                    if frame.player(port).is_none() {
                        break 'messages;
                    }
                    if let Verdict::Advance { reset, .. } = life.observe(frame) {
                        stepped.push(at);
                        resets.push(reset.is_some_and(|cause| rule.applies(cause)));
                    }
                }
                ClientMessage::Hello(_) => {}
            }
        }
        // The first step always starts from a fresh state, reset or not.
        if let Some(first) = resets.first_mut() {
            *first = true;
        }
        let delay = delay as usize;
        let samples = stepped.len().saturating_sub(delay);
        resets.truncate(samples);
        Sequence {
            player: file.clone(),
            mirrored: false,
            file,
            port,
            character,
            frames,
            stepped,
            resets,
            delay,
        }
    }

    /// Sets who played the port.
    pub fn with_player(mut self, player: String) -> Sequence {
        self.player = player;
        self
    }

    /// The same play seen in a left/right mirror ([`crate::mirror`]): same
    /// steps, resets and delay, every frame flipped.
    pub fn mirrored(&self) -> Sequence {
        Sequence {
            frames: crate::mirror::mirror_frames(&self.frames),
            mirrored: !self.mirrored,
            ..self.clone()
        }
    }

    /// Samples: stepped frames that have a frame `delay` steps later.
    pub fn len(&self) -> usize {
        self.resets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.resets.is_empty()
    }

    /// The frame the policy steps on at sample `t`.
    pub fn frame(&self, t: usize) -> &Frame {
        &self.frames[self.stepped[t]]
    }

    /// Whether the daemon resets the state before stepping sample `t`.
    pub fn reset(&self, t: usize) -> bool {
        self.resets[t]
    }

    /// What the policy should output at sample `t`: the port's controller
    /// `delay` stepped frames later.
    pub fn target(&self, t: usize) -> Target {
        self.held(t + self.delay)
    }

    /// The controller the port held on stepped frame `t` (the newest one a
    /// policy stepping on frame t sees). `t` may run up to `len() + delay`.
    pub fn held(&self, t: usize) -> Target {
        Target::of(&self.player_at(t).controller)
    }

    /// The port's player on stepped frame `t` (up to `len() + delay`).
    pub fn player_at(&self, t: usize) -> &PlayerFrame {
        let frame = &self.frames[self.stepped[t]];
        frame.player(self.port).expect("checked when built")
    }

    /// The port's player on the frame whose input sample `t` targets.
    pub fn target_player(&self, t: usize) -> &PlayerFrame {
        self.player_at(t + self.delay)
    }
}
