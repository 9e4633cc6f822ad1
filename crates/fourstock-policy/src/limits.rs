//! The ranges a model's config values must fall in, for every family.
//!
//! A config comes from a file, so each value that sizes an allocation or
//! a queue, or feeds the arithmetic of sampling, is checked against a
//! range here before anything is built from it, and an out-of-range value
//! is refused naming its field. The bounds are generous: a Phillip-size
//! slippi-ai network is 3 layers of 512, fourstock's shipped models are
//! 2 of 128, and slippi-ai samples at temperature 1, so every real model
//! sits far inside them.

use std::fmt::Display;

/// The longest reaction delay a model may declare, in frames: two seconds
/// of game. A front end queues one action per frame of delay per port, so
/// a model asking for more is refused at load.
pub const MAX_DELAY: u32 = 120;

/// The widest layer (a hidden size, a residual width): 16384, 32 times a
/// Phillip-size layer of 512. One LSTM layer this wide already holds
/// 4 x 16384 x 16384 f32 weights, 4 GiB.
pub const MAX_HIDDEN: usize = 1 << 14;

/// The most recurrent layers in a core: 64, 21 times Phillip's 3. A
/// layer is a step's serial work, so a deeper core could not answer
/// within a frame anyway.
pub const MAX_LAYERS: usize = 64;

/// The coldest sampling temperature: 1e-4. Colder sampling picks the
/// argmax class every time (fourstock's decoding test shows 1e-4 already
/// plays like argmax), so a model wanting that should say `argmax`.
pub const MIN_TEMPERATURE: f32 = 1e-4;

/// The hottest sampling temperature: 100, a hundred times slippi-ai's
/// default of 1. Logits of a trained head span a few units, so at 100
/// every class is already about as likely as any other.
pub const MAX_TEMPERATURE: f32 = 100.0;

/// The largest decision bias, in logits: 100. A fitted bias moves a
/// decision by a few units; at 100 a class is chosen always or never.
pub const MAX_DECISION_BIAS: f32 = 100.0;

/// `Ok` when `lo <= value <= hi`; else the reason, naming `field`. A NaN
/// is outside every range.
pub fn within<T: PartialOrd + Display>(field: &str, value: T, lo: T, hi: T) -> Result<(), String> {
    if lo <= value && value <= hi {
        Ok(())
    } else {
        Err(format!("{field} is {value}, outside {lo}..={hi}"))
    }
}

/// A sampling temperature's check: [`within`] [`MIN_TEMPERATURE`] and
/// [`MAX_TEMPERATURE`].
pub fn temperature(field: &str, value: f32) -> Result<(), String> {
    within(field, value, MIN_TEMPERATURE, MAX_TEMPERATURE)
}

/// A decision bias's check: every value [`within`] +-[`MAX_DECISION_BIAS`],
/// the first one outside named by its index.
pub fn decision_bias(field: &str, bias: &[f32]) -> Result<(), String> {
    bias.iter().enumerate().try_for_each(|(k, &b)| {
        within(
            &format!("{field}[{k}]"),
            b,
            -MAX_DECISION_BIAS,
            MAX_DECISION_BIAS,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_are_inside_and_a_nan_is_outside() {
        assert!(within("x", 1, 1, 3).is_ok());
        assert!(within("x", 3, 1, 3).is_ok());
        assert_eq!(within("x", 4, 1, 3).unwrap_err(), "x is 4, outside 1..=3");
        assert!(temperature("t", MAX_TEMPERATURE).is_ok());
        assert!(temperature("t", MIN_TEMPERATURE).is_ok());
        for bad in [f32::NAN, f32::INFINITY, 0.0, -1.0, 100.01] {
            let reason = temperature("t", bad).unwrap_err();
            assert!(reason.starts_with("t is "), "{reason}");
        }
        assert!(decision_bias("b", &[0.0, MAX_DECISION_BIAS, -MAX_DECISION_BIAS]).is_ok());
        assert_eq!(
            decision_bias("b", &[0.0, f32::NAN]).unwrap_err(),
            "b[1] is NaN, outside -100..=100"
        );
        assert!(decision_bias("b", &[100.5]).is_err());
    }
}
