//! The LSTM and GRU cells on plain rows of f32, PyTorch's equations and
//! gate order, for the small batches live sessions step.
//!
//! A cell takes the two gate projections (input side and hidden side)
//! already computed by [`crate::kernel`], and applies the gates with the
//! vectorised activations of [`crate::activation`]. fourstock's own
//! recurrent core and slippi-ai's `tx_like` core share these; their tests
//! prove them equal to candle's tensor formulas.

use crate::activation;

/// The LSTM cell on rows laid end to end: `gi` and `gh` hold each row's
/// input and hidden projections of the gates `i, f, g, o` (4n values; `gi`
/// is used up), `c` and `h` each row's n values, updated in place:
/// `c' = σ(f) c + σ(i) tanh(g)`, `h' = σ(o) tanh(c')`.
pub fn lstm_rows(gi: &mut [f32], gh: &[f32], c: &mut [f32], h: &mut [f32], n: usize) {
    for (g, d) in gi.iter_mut().zip(gh) {
        *g += d;
    }
    let rows = gi
        .chunks_exact_mut(4 * n)
        .zip(c.chunks_exact_mut(n))
        .zip(h.chunks_exact_mut(n));
    for ((g, c), h) in rows {
        activation::sigmoid(&mut g[..2 * n]);
        activation::tanh(&mut g[2 * n..3 * n]);
        activation::sigmoid(&mut g[3 * n..]);
        let (i, rest) = g.split_at(n);
        let (f, rest) = rest.split_at(n);
        let (g, o) = rest.split_at(n);
        for (((c, f), i), g) in c.iter_mut().zip(f).zip(i).zip(g) {
            *c = f * *c + i * g;
        }
        h.copy_from_slice(c);
        activation::tanh(h);
        for (h, o) in h.iter_mut().zip(o) {
            *h *= o;
        }
    }
}

/// The GRU cell on rows laid end to end: `gi` and `gh` hold each row's
/// input and hidden projections `r, z, n` (3n values; `gi` is used up),
/// `h` each row's n values, updated in place:
/// `n = tanh(gi_n + σ(r) gh_n)`, `h' = n + σ(z) (h - n)`.
pub fn gru_rows(gi: &mut [f32], gh: &[f32], h: &mut [f32], n: usize) {
    let rows = gi
        .chunks_exact_mut(3 * n)
        .zip(gh.chunks_exact(3 * n))
        .zip(h.chunks_exact_mut(n));
    for ((gi, gh), h) in rows {
        for (g, d) in gi[..2 * n].iter_mut().zip(&gh[..2 * n]) {
            *g += d;
        }
        activation::sigmoid(&mut gi[..2 * n]);
        let (rz, candidate) = gi.split_at_mut(2 * n);
        let (r, z) = rz.split_at(n);
        for ((c, r), d) in candidate.iter_mut().zip(r).zip(&gh[2 * n..]) {
            *c += r * d;
        }
        activation::tanh(candidate);
        for ((h, c), z) in h.iter_mut().zip(&*candidate).zip(z) {
            *h = c + z * (*h - c);
        }
    }
}
