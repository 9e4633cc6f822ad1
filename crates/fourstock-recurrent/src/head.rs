//! The controller head: a linear layer from the core's output to the 81
//! logits of the action space, and the decoding of those logits into a
//! controller: argmax, argmax after a fitted bias and persistence
//! (calibrated), or seeded sampling with a temperature.
//!
//! Buttons are independent Bernoullis (pressed when the logit, plus what
//! calibration adds, is positive); each stick axis and the shoulder are
//! categorical. The shoulder is sent as the L trigger's analog value.

use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};
use fourstock_proto::ControllerState;
use rand::Rng;

use crate::action;
use crate::config::Decoding;

/// The head as candle tensor ops, for training and as the serving step's
/// reference; the serving step packs the same weights.
pub struct ControllerHead {
    /// (hidden, 81)
    w_t: Tensor,
    /// (81)
    bias: Tensor,
}

impl ControllerHead {
    /// From PyTorch `nn.Linear` weights: `weight` (81, hidden), `bias` (81).
    pub fn new(weight: &Tensor, bias: &Tensor) -> candle_core::Result<ControllerHead> {
        Ok(ControllerHead {
            w_t: weight.t()?.contiguous()?,
            bias: bias.clone(),
        })
    }

    /// The training head: `weight` (81, hidden) and `bias` (81) from the
    /// builder (pass `vb.pp("head")`), created as PyTorch initialises
    /// `nn.Linear`, U(-1/sqrt(hidden), 1/sqrt(hidden)), when missing. Holds a
    /// transposed view of the weight, never a copy.
    pub fn from_var_builder(hidden: usize, vb: VarBuilder) -> candle_core::Result<ControllerHead> {
        let bound = 1.0 / (hidden as f64).sqrt();
        let init = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        Ok(ControllerHead {
            w_t: vb
                .get_with_hints((action::SIZE, hidden), "weight", init)?
                .t()?,
            bias: vb.get_with_hints(action::SIZE, "bias", init)?,
        })
    }

    /// Logits (batch, 81) from the core's output (batch, hidden).
    pub fn logits(&self, h: &Tensor) -> candle_core::Result<Tensor> {
        h.matmul(&self.w_t)?.broadcast_add(&self.bias)
    }
}

/// A deterministic decision: which buttons are pressed and the class of
/// each stick axis and of the shoulder, in head order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub pressed: [bool; action::BUTTONS.len()],
    /// Main x, main y, c x, c y, then the shoulder.
    pub classes: [usize; action::STICK_AXES + 1],
}

impl Decision {
    /// The classes of a controller, as the head's targets read it.
    pub fn of(controller: &ControllerState) -> Decision {
        let mut pressed = [false; action::BUTTONS.len()];
        for (slot, &bit) in pressed.iter_mut().zip(action::BUTTONS.iter()) {
            *slot = controller.buttons.contains(bit);
        }
        let mut classes = [0; action::STICK_AXES + 1];
        for (slot, value) in classes.iter_mut().zip(action::stick_axes(controller)) {
            *slot = action::stick_class(value);
        }
        classes[action::STICK_AXES] = action::shoulder_class(controller.shoulder());
        Decision { pressed, classes }
    }
}

/// The deterministic decision on a row of logits: argmax, or with a
/// `calibration` (bias per logit, persistence per output) added first,
/// the persistence to whatever `held` holds. What argmax and calibrated
/// decoding play, and what evaluation scores.
pub fn decide(logits: &[f32], calibration: Option<(&[f32], &[f32])>, held: &Decision) -> Decision {
    debug_assert_eq!(logits.len(), action::SIZE);
    let (bias, keep) = calibration.unwrap_or((&[], &[]));
    let at = |k: usize| logits[k] + bias.get(k).copied().unwrap_or(0.0);
    let kept = |output: usize, holds: bool| {
        if holds {
            keep.get(output).copied().unwrap_or(0.0)
        } else {
            0.0
        }
    };
    let mut pressed = [false; action::BUTTONS.len()];
    for (k, p) in pressed.iter_mut().enumerate() {
        *p = at(k) + kept(k, held.pressed[k]) > 0.0;
    }
    let mut classes = [0; action::STICK_AXES + 1];
    for (head, class) in classes.iter_mut().enumerate() {
        let (from, count) = action::class_span(head);
        let output = action::BUTTONS.len() + head;
        *class = (0..count)
            .fold((0, f32::NEG_INFINITY), |best, j| {
                let v = at(from + j) + kept(output, held.classes[head] == j);
                if v > best.1 {
                    (j, v)
                } else {
                    best
                }
            })
            .0;
    }
    Decision { pressed, classes }
}

/// One row of logits into a controller; `held` is the controller the
/// port holds on the frame (what calibrated decoding's persistence keeps).
pub fn decode<R: Rng>(
    logits: &[f32],
    decoding: &Decoding,
    held: &Decision,
    rng: &mut R,
) -> ControllerState {
    debug_assert_eq!(logits.len(), action::SIZE);
    let decision = match decoding {
        Decoding::Argmax => decide(logits, None, held),
        Decoding::Calibrated { .. } => decide(logits, decoding.calibration(), held),
        Decoding::Sample { temperature } => sample(logits, *temperature, rng),
    };
    let mut c = ControllerState::NEUTRAL;
    for (&bit, &pressed) in action::BUTTONS.iter().zip(&decision.pressed) {
        c.buttons.set(bit, pressed);
    }
    let [main_x, main_y, c_x, c_y, shoulder] = decision.classes;
    c.main_x = action::stick_value(main_x);
    c.main_y = action::stick_value(main_y);
    c.c_x = action::stick_value(c_x);
    c.c_y = action::stick_value(c_y);
    c.l_trigger = action::shoulder_value(shoulder);
    c
}

/// A seeded draw of every head at `temperature`.
fn sample<R: Rng>(logits: &[f32], temperature: f32, rng: &mut R) -> Decision {
    let t = temperature.max(1e-6);
    let mut pressed = [false; action::BUTTONS.len()];
    for (p, &logit) in pressed.iter_mut().zip(logits) {
        *p = rng.random::<f32>() < sigmoid(logit / t);
    }
    let mut classes = [0; action::STICK_AXES + 1];
    for (head, class) in classes.iter_mut().enumerate() {
        let (from, count) = action::class_span(head);
        *class = draw(&logits[from..from + count], t, rng);
    }
    Decision { pressed, classes }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// A class drawn from categorical logits at temperature `t`.
fn draw<R: Rng>(logits: &[f32], t: f32, rng: &mut R) -> usize {
    let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let total: f32 = logits.iter().map(|&l| ((l - top) / t).exp()).sum();
    let mut left = rng.random::<f32>() * total;
    for (i, &l) in logits.iter().enumerate() {
        left -= ((l - top) / t).exp();
        if left <= 0.0 {
            return i;
        }
    }
    // Rounding left a sliver: the likeliest class.
    logits
        .iter()
        .position(|&l| l == top)
        .unwrap_or(logits.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fourstock_proto::Buttons;
    use rand::SeedableRng;

    fn none() -> Decision {
        Decision::of(&ControllerState::NEUTRAL)
    }

    fn logits() -> Vec<f32> {
        let mut l = vec![-1.0; action::SIZE];
        l[0] = 2.0; // A
        l[action::STICKS_AT + 16] = 5.0; // main x full right
        l[action::STICKS_AT + action::STICK_CLASSES + 8] = 5.0; // main y neutral
        l[action::STICKS_AT + 2 * action::STICK_CLASSES + 8] = 5.0;
        l[action::STICKS_AT + 3 * action::STICK_CLASSES] = 5.0; // c y down
        l[action::SHOULDER_AT + 2] = 5.0;
        l
    }

    #[test]
    fn argmax_decodes_each_head() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let c = decode(&logits(), &Decoding::Argmax, &none(), &mut rng);
        assert_eq!(c.buttons, Buttons(Buttons::A));
        assert_eq!((c.main_x, c.main_y, c.c_x, c.c_y), (1.0, 0.5, 0.5, 0.0));
        assert_eq!((c.l_trigger, c.r_trigger), (0.5, 0.0));
    }

    #[test]
    fn sampling_is_seeded_and_a_cold_temperature_approaches_argmax() {
        let flat = vec![0.0; action::SIZE];
        let draw = |seed| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            (0..50)
                .map(|_| {
                    decode(
                        &flat,
                        &Decoding::Sample { temperature: 1.0 },
                        &none(),
                        &mut rng,
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let argmax = decode(&logits(), &Decoding::Argmax, &none(), &mut rng);
        for _ in 0..20 {
            let cold = decode(
                &logits(),
                &Decoding::Sample { temperature: 0.01 },
                &none(),
                &mut rng,
            );
            assert_eq!(cold, argmax);
        }
    }

    #[test]
    fn a_calibration_bias_moves_the_decision_and_nothing_else() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let mut bias = vec![0.0; action::SIZE];
        // B's logit is -1: a bias of 1.5 presses it; A's 2.0 minus 3 releases it.
        bias[1] = 1.5;
        bias[0] = -3.0;
        // Main x: class 3 (logit -1) overtakes class 16 (logit 5) only past 6.
        bias[action::STICKS_AT + 3] = 6.5;
        let calibrated = Decoding::Calibrated {
            bias: bias.clone(),
            persistence: Vec::new(),
        };
        let c = decode(&logits(), &calibrated, &none(), &mut rng);
        assert_eq!(c.buttons, Buttons(Buttons::B));
        assert_eq!(c.main_x, action::stick_value(3));
        assert_eq!((c.main_y, c.c_x, c.c_y, c.l_trigger), (0.5, 0.5, 0.0, 0.5));
        // A zero bias is argmax.
        let zero = Decoding::Calibrated {
            bias: vec![0.0; action::SIZE],
            persistence: vec![0.0; action::OUTPUTS],
        };
        assert_eq!(
            decode(&logits(), &zero, &none(), &mut rng),
            decode(&logits(), &Decoding::Argmax, &none(), &mut rng)
        );
        bias[action::STICKS_AT + 3] = 5.5;
        assert_eq!(
            decide(&logits(), Some((&bias, &[])), &none()).classes[0],
            16
        );
    }

    #[test]
    fn persistence_keeps_what_the_controller_holds_when_it_is_close() {
        let bias = vec![0.0; action::SIZE];
        let mut keep = vec![0.0; action::OUTPUTS];
        keep[1] = 1.5; // B
        keep[action::BUTTONS.len()] = 6.5; // main x
                                           // The port holds B and main x at class 3 (logits -1 each).
        let held = Decision::of(&ControllerState {
            buttons: Buttons(Buttons::B),
            main_x: action::stick_value(3),
            ..ControllerState::NEUTRAL
        });
        assert!(held.pressed[1] && held.classes[0] == 3);
        let d = decide(&logits(), Some((&bias, &keep)), &held);
        assert!(d.pressed[1], "B is kept");
        assert_eq!(d.classes[0], 3, "main x is kept");
        // B not held is not kept; a neutral main x held is kept instead.
        let d = decide(&logits(), Some((&bias, &keep)), &none());
        assert!(!d.pressed[1]);
        assert_eq!(d.classes[0], 8);
        // Too far to keep: main x class 3 is 6 under class 16.
        keep[action::BUTTONS.len()] = 5.5;
        assert_eq!(
            decide(&logits(), Some((&bias, &keep)), &held).classes[0],
            16
        );
    }
}
