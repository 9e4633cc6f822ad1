//! Choosing a component's class from its logits: seeded sampling with a
//! temperature as slippi-ai's agents do at run time, and the negative log
//! probability slippi-ai scores a target with.
//!
//! A button has one logit: pressed with probability `σ(logit / T)`. A stick
//! axis or the shoulder has one logit per class: class `k` with probability
//! `softmax(logits / T)_k`.

use rand::Rng;

/// Samples a class. `is_button` selects the Bernoulli form.
pub fn sample<R: Rng + ?Sized>(
    logits: &[f32],
    is_button: bool,
    temperature: f32,
    rng: &mut R,
) -> u8 {
    let t = temperature.max(1e-6);
    if is_button {
        let p = sigmoid(logits.first().copied().unwrap_or(0.0) / t);
        return (rng.random::<f32>() < p) as u8;
    }
    let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weight = |l: f32| ((l - top) / t).exp();
    let total: f32 = logits.iter().map(|&l| weight(l)).sum();
    let mut draw = rng.random::<f32>() * total;
    for (k, &l) in logits.iter().enumerate() {
        draw -= weight(l);
        if draw < 0.0 {
            return k as u8;
        }
    }
    argmax(logits)
}

/// The most likely class (ties go to the lowest).
pub fn argmax(logits: &[f32]) -> u8 {
    if logits.len() == 1 {
        return (logits[0] > 0.0) as u8;
    }
    let mut best = 0;
    for (k, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = k;
        }
    }
    best as u8
}

/// slippi-ai's distance: sigmoid cross-entropy for a button, softmax
/// cross-entropy otherwise. Computed in f64.
pub fn neg_log_prob(logits: &[f32], is_button: bool, target: u8) -> f64 {
    if is_button {
        let l = logits.first().copied().unwrap_or(0.0) as f64;
        let t = (target != 0) as u8 as f64;
        return l.max(0.0) - l * t + (-l.abs()).exp().ln_1p();
    }
    let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&l| (l as f64 - top).exp()).sum();
    let picked = logits
        .get(target as usize)
        .copied()
        .unwrap_or(f32::NEG_INFINITY) as f64;
    top + sum.ln() - picked
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn sampling_is_seeded_and_follows_the_distribution() {
        let logits = [0.0f32, (3.0f32).ln(), f32::NEG_INFINITY];
        let draws = |seed| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            (0..4000)
                .map(|_| sample(&logits, false, 1.0, &mut rng))
                .collect::<Vec<_>>()
        };
        let a = draws(7);
        assert_eq!(a, draws(7));
        assert_ne!(a, draws(8));
        assert!(
            a.iter().all(|&k| k < 2),
            "a zero-probability class is never drawn"
        );
        let ones = a.iter().filter(|&&k| k == 1).count() as f64 / a.len() as f64;
        assert!((ones - 0.75).abs() < 0.03, "{ones}");
    }

    #[test]
    fn temperature_sharpens_and_buttons_are_bernoulli() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..100 {
            assert_eq!(sample(&[1.0, 1.5, 0.2], false, 0.01, &mut rng), 1);
            assert_eq!(sample(&[2.0], true, 0.01, &mut rng), 1);
            assert_eq!(sample(&[-2.0], true, 0.01, &mut rng), 0);
        }
        let pressed = (0..4000)
            .filter(|_| sample(&[0.0], true, 1.0, &mut rng) == 1)
            .count();
        assert!((pressed as f64 / 4000.0 - 0.5).abs() < 0.03);
    }

    #[test]
    fn distances_match_the_closed_forms() {
        assert!((neg_log_prob(&[0.0], true, 1) - 2f64.ln()).abs() < 1e-12);
        assert!((neg_log_prob(&[2.0], true, 0) - (1.0 + 2f64.exp()).ln()).abs() < 1e-12);
        let l = [1.0f32, 2.0, 3.0];
        let z: f64 = l.iter().map(|&v| (v as f64).exp()).sum();
        assert!((neg_log_prob(&l, false, 0) - (z.ln() - 1.0)).abs() < 1e-12);
        assert_eq!(argmax(&l), 2);
        assert_eq!(argmax(&[0.3]), 1);
    }
}
