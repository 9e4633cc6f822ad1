//! The recurrent core: a stack of LSTM or GRU layers computing PyTorch's
//! `nn.LSTM` / `nn.GRU` equations, gate order and all.
//!
//! LSTM (gates i, f, g, o): `c' = σ(f) c + σ(i) tanh(g)`, `h' = σ(o) tanh(c')`.
//! GRU (gates r, z, n): `n = tanh(x W_in + b_in + σ(r) (h W_hn + b_hn))`,
//! `h' = (1 - σ(z)) n + σ(z) h`. Layer k reads layer k-1's new h.
//!
//! Weights are kept transposed and contiguous, so a step is two matmuls per
//! layer with no copies of the weights.

use candle_core::{DType, Device, Tensor, D};

use crate::config::CellKind;

/// How many gates a cell has.
pub fn gates(cell: CellKind) -> usize {
    match cell {
        CellKind::Lstm => 4,
        CellKind::Gru => 3,
    }
}

/// How many state tensors a layer carries: (h, c) for an LSTM, h for a GRU.
pub fn state_tensors(cell: CellKind) -> usize {
    match cell {
        CellKind::Lstm => 2,
        CellKind::Gru => 1,
    }
}

/// One layer's weights, in PyTorch's layout.
pub struct LayerWeights {
    /// (gates * hidden, input)
    pub weight_ih: Tensor,
    /// (gates * hidden, hidden)
    pub weight_hh: Tensor,
    /// (gates * hidden)
    pub bias_ih: Tensor,
    /// (gates * hidden)
    pub bias_hh: Tensor,
}

struct Layer {
    hidden: usize,
    /// (input, gates * hidden)
    w_ih_t: Tensor,
    /// (hidden, gates * hidden)
    w_hh_t: Tensor,
    /// LSTM: b_ih + b_hh. GRU: b_ih.
    b_i: Tensor,
    /// GRU only: b_hh (the n gate needs it apart). Unused for LSTM.
    b_h: Tensor,
}

/// A stack of recurrent layers.
pub struct RecurrentCore {
    cell: CellKind,
    layers: Vec<Layer>,
}

impl RecurrentCore {
    /// Builds the core from PyTorch-layout weights, bottom layer first.
    /// Shapes must already be checked (see `checkpoint`).
    pub fn new(cell: CellKind, weights: &[LayerWeights]) -> candle_core::Result<RecurrentCore> {
        let layers = weights
            .iter()
            .map(|w| {
                let hidden = w.weight_hh.dim(1)?;
                let (b_i, b_h) = match cell {
                    CellKind::Lstm => ((&w.bias_ih + &w.bias_hh)?, w.bias_hh.clone()),
                    CellKind::Gru => (w.bias_ih.clone(), w.bias_hh.clone()),
                };
                Ok(Layer {
                    hidden,
                    w_ih_t: w.weight_ih.t()?.contiguous()?,
                    w_hh_t: w.weight_hh.t()?.contiguous()?,
                    b_i,
                    b_h,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(RecurrentCore { cell, layers })
    }

    pub fn cell(&self) -> CellKind {
        self.cell
    }

    /// The state of a fresh sequence: zeros, `batch` rows.
    pub fn zero_state(&self, batch: usize, device: &Device) -> candle_core::Result<Vec<Tensor>> {
        let mut state = Vec::new();
        for layer in &self.layers {
            for _ in 0..state_tensors(self.cell) {
                state.push(Tensor::zeros((batch, layer.hidden), DType::F32, device)?);
            }
        }
        Ok(state)
    }

    /// One step: `x` is (batch, input), `state` as [`RecurrentCore::zero_state`].
    /// Returns the top layer's h and the new state.
    pub fn step(&self, x: &Tensor, state: &[Tensor]) -> candle_core::Result<(Tensor, Vec<Tensor>)> {
        let per = state_tensors(self.cell);
        let mut input = x.clone();
        let mut next = Vec::with_capacity(state.len());
        for (layer, s) in self.layers.iter().zip(state.chunks(per)) {
            match self.cell {
                CellKind::Lstm => {
                    let (h, c) = lstm(layer, &input, &s[0], &s[1])?;
                    next.push(h.clone());
                    next.push(c);
                    input = h;
                }
                CellKind::Gru => {
                    let h = gru(layer, &input, &s[0])?;
                    next.push(h.clone());
                    input = h;
                }
            }
        }
        Ok((input, next))
    }
}

fn lstm(
    layer: &Layer,
    x: &Tensor,
    h: &Tensor,
    c: &Tensor,
) -> candle_core::Result<(Tensor, Tensor)> {
    let n = layer.hidden;
    let gates = x
        .matmul(&layer.w_ih_t)?
        .add(&h.matmul(&layer.w_hh_t)?)?
        .broadcast_add(&layer.b_i)?;
    let i = candle_nn::ops::sigmoid(&gates.narrow(D::Minus1, 0, n)?)?;
    let f = candle_nn::ops::sigmoid(&gates.narrow(D::Minus1, n, n)?)?;
    let g = gates.narrow(D::Minus1, 2 * n, n)?.tanh()?;
    let o = candle_nn::ops::sigmoid(&gates.narrow(D::Minus1, 3 * n, n)?)?;
    let c = f.mul(c)?.add(&i.mul(&g)?)?;
    let h = o.mul(&c.tanh()?)?;
    Ok((h, c))
}

fn gru(layer: &Layer, x: &Tensor, h: &Tensor) -> candle_core::Result<Tensor> {
    let n = layer.hidden;
    let gi = x.matmul(&layer.w_ih_t)?.broadcast_add(&layer.b_i)?;
    let gh = h.matmul(&layer.w_hh_t)?.broadcast_add(&layer.b_h)?;
    let r = candle_nn::ops::sigmoid(&gi.narrow(D::Minus1, 0, n)?.add(&gh.narrow(
        D::Minus1,
        0,
        n,
    )?)?)?;
    let z = candle_nn::ops::sigmoid(&gi.narrow(D::Minus1, n, n)?.add(&gh.narrow(
        D::Minus1,
        n,
        n,
    )?)?)?;
    let candidate = gi
        .narrow(D::Minus1, 2 * n, n)?
        .add(&r.mul(&gh.narrow(D::Minus1, 2 * n, n)?)?)?
        .tanh()?;
    // (1 - z) n + z h  ==  n + z (h - n)
    candidate.add(&z.mul(&h.sub(&candidate)?)?)
}
