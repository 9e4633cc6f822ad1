//! The imitation losses on a batch of logits: a Bernoulli per button
//! (binary cross-entropy on the logit, computed stably) and a categorical
//! per stick axis and for the shoulder (cross-entropy).

use candle_core::{Device, Tensor, D};
use fourstock_recurrent::action;

use crate::window::Window;

/// The mean loss of each head over a batch; `total` is what is minimised:
/// the sum over the 13 outputs (8 buttons, 4 axes, 1 shoulder).
pub struct Losses {
    pub total: Tensor,
    /// Mean binary cross-entropy per button.
    pub buttons: Tensor,
    /// Mean cross-entropy per stick axis.
    pub sticks: Tensor,
    pub shoulder: Tensor,
}

/// The losses of `logits` (rows, 81) against the window's targets.
pub fn losses(logits: &Tensor, window: &Window) -> candle_core::Result<Losses> {
    let rows = logits.dim(0)?;
    let dev = &Device::Cpu;
    let nb = action::BUTTONS.len();
    let buttons_logits = logits.narrow(D::Minus1, 0, nb)?;
    let buttons_target = Tensor::from_slice(&window.buttons, (rows, nb), dev)?;
    let buttons = bce_with_logits(&buttons_logits, &buttons_target)?;

    let sticks_logits = logits
        .narrow(
            D::Minus1,
            action::STICKS_AT,
            action::STICK_AXES * action::STICK_CLASSES,
        )?
        .reshape((rows * action::STICK_AXES, action::STICK_CLASSES))?;
    let sticks_target = Tensor::from_slice(&window.sticks, rows * action::STICK_AXES, dev)?;
    let sticks = candle_nn::loss::cross_entropy(&sticks_logits, &sticks_target)?;

    let shoulder_logits =
        logits.narrow(D::Minus1, action::SHOULDER_AT, action::SHOULDER_CLASSES)?;
    let shoulder_target = Tensor::from_slice(&window.shoulder, rows, dev)?;
    let shoulder = candle_nn::loss::cross_entropy(&shoulder_logits, &shoulder_target)?;

    let total = ((buttons.affine(nb as f64, 0.0)?
        + sticks.affine(action::STICK_AXES as f64, 0.0)?)?
        + &shoulder)?;
    Ok(Losses {
        total,
        buttons,
        sticks,
        shoulder,
    })
}

/// Mean of `max(x, 0) - x y + ln(1 + e^-|x|)`: binary cross-entropy of
/// logits `x` against targets `y`, without overflow.
pub fn bce_with_logits(x: &Tensor, y: &Tensor) -> candle_core::Result<Tensor> {
    let softplus_neg_abs = x.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?;
    (x.relu()? - (x * y)?)?.add(&softplus_neg_abs)?.mean_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bce_matches_the_textbook_formula() {
        let x = Tensor::new(&[-30.0f32, -1.0, 0.0, 2.0, 40.0], &Device::Cpu).unwrap();
        let y = Tensor::new(&[0.0f32, 1.0, 1.0, 0.0, 1.0], &Device::Cpu).unwrap();
        let got = bce_with_logits(&x, &y).unwrap().to_scalar::<f32>().unwrap();
        let xs = [-30.0f64, -1.0, 0.0, 2.0, 40.0];
        let ys = [0.0f64, 1.0, 1.0, 0.0, 1.0];
        let want: f64 = xs
            .iter()
            .zip(ys)
            .map(|(&x, y)| {
                let p = 1.0 / (1.0 + (-x).exp());
                -(y * p.max(1e-300).ln() + (1.0 - y) * (1.0 - p).max(1e-300).ln())
            })
            .sum::<f64>()
            / 5.0;
        assert!((got as f64 - want).abs() < 1e-5, "{got} vs {want}");
    }
}
