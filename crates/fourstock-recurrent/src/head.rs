//! The controller head: a linear layer from the core's output to the 81
//! logits of the action space, and the decoding of those logits into a
//! controller: argmax, or seeded sampling with a temperature.
//!
//! Buttons are independent Bernoullis (pressed when the logit is positive
//! under argmax); each stick axis and the shoulder are categorical. The
//! shoulder is sent as the L trigger's analog value.

use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};
use fourstock_proto::{Buttons, ControllerState};
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

/// One row of logits into a controller.
pub fn decode<R: Rng>(logits: &[f32], decoding: Decoding, rng: &mut R) -> ControllerState {
    debug_assert_eq!(logits.len(), action::SIZE);
    let mut c = ControllerState::NEUTRAL;
    let mut buttons = Buttons::default();
    for (&bit, &logit) in action::BUTTONS.iter().zip(logits) {
        let pressed = match decoding {
            Decoding::Argmax => logit > 0.0,
            Decoding::Sample { temperature } => {
                rng.random::<f32>() < sigmoid(logit / temperature.max(1e-6))
            }
        };
        buttons.set(bit, pressed);
    }
    c.buttons = buttons;
    let mut axes = [0.5f32; action::STICK_AXES];
    for (axis, value) in axes.iter_mut().enumerate() {
        let at = action::STICKS_AT + axis * action::STICK_CLASSES;
        let class = choose(&logits[at..at + action::STICK_CLASSES], decoding, rng);
        *value = action::stick_value(class);
    }
    [c.main_x, c.main_y, c.c_x, c.c_y] = axes;
    let at = action::SHOULDER_AT;
    let class = choose(&logits[at..at + action::SHOULDER_CLASSES], decoding, rng);
    c.l_trigger = action::shoulder_value(class);
    c
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The class picked from categorical logits.
fn choose<R: Rng>(logits: &[f32], decoding: Decoding, rng: &mut R) -> usize {
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |best, (i, &l)| {
                if l > best.1 {
                    (i, l)
                } else {
                    best
                }
            })
            .0
    };
    match decoding {
        Decoding::Argmax => argmax(),
        Decoding::Sample { temperature } => {
            let t = temperature.max(1e-6);
            let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let total: f32 = logits.iter().map(|&l| ((l - top) / t).exp()).sum();
            let mut draw = rng.random::<f32>() * total;
            for (i, &l) in logits.iter().enumerate() {
                draw -= ((l - top) / t).exp();
                if draw <= 0.0 {
                    return i;
                }
            }
            argmax()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

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
        let c = decode(&logits(), Decoding::Argmax, &mut rng);
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
                .map(|_| decode(&flat, Decoding::Sample { temperature: 1.0 }, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let argmax = decode(&logits(), Decoding::Argmax, &mut rng);
        for _ in 0..20 {
            let cold = decode(&logits(), Decoding::Sample { temperature: 0.01 }, &mut rng);
            assert_eq!(cold, argmax);
        }
    }
}
