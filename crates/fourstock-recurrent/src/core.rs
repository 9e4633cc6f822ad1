//! The recurrent core: a stack of LSTM or GRU layers computing PyTorch's
//! `nn.LSTM` / `nn.GRU` equations, gate order and all.
//!
//! LSTM (gates i, f, g, o): `c' = σ(f) c + σ(i) tanh(g)`, `h' = σ(o) tanh(c')`.
//! GRU (gates r, z, n): `n = tanh(x W_in + b_in + σ(r) (h W_hn + b_hn))`,
//! `h' = (1 - σ(z)) n + σ(z) h`. Layer k reads layer k-1's new h.
//!
//! This is the core as candle tensor ops: training, evaluation of long
//! sequences, and the reference the serving step (the `serving` module,
//! which builds on this one) is tested against.
//!
//! A step splits each layer in two: the input projection `x W_ih^T + b`
//! and the cell, which adds `h W_hh^T` and applies the gates. A core built
//! from a checkpoint ([`RecurrentCore::new`]) keeps every weight transposed
//! and contiguous, so a step copies no weights, and projects the first
//! layer's mostly one-hot input by summing the rows its non-zero features
//! pick ([`RecurrentCore::project_sparse`]). A training core
//! ([`RecurrentCore::from_var_builder`]) keeps transposed views of its
//! variables instead, so gradients reach them and an optimizer's update is
//! seen by the next forward pass; [`RecurrentCore::sequence`] unrolls it
//! over T steps with one input projection per layer.

use candle_core::{bail, DType, Device, Storage, Tensor, D};
use candle_nn::{Init, VarBuilder};

use fourstock_nn::sparse;

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
    /// Added to the input projection: b_ih, or for a checkpoint's LSTM b_ih + b_hh.
    b_i: Tensor,
    /// Added to `h W_hh^T`: b_hh, except for a checkpoint's LSTM, whose
    /// b_hh is already in `b_i`.
    b_h: Option<Tensor>,
}

/// A stack of recurrent layers.
pub struct RecurrentCore {
    cell: CellKind,
    layers: Vec<Layer>,
}

impl RecurrentCore {
    /// The core of a checkpoint, from PyTorch-layout weights, bottom layer
    /// first. Shapes must already be checked (see `checkpoint`). The
    /// weights are copied once, transposed and contiguous.
    pub fn new(cell: CellKind, weights: &[LayerWeights]) -> candle_core::Result<RecurrentCore> {
        let layers = weights
            .iter()
            .map(|w| {
                let (b_i, b_h) = match cell {
                    CellKind::Lstm => ((&w.bias_ih + &w.bias_hh)?, None),
                    CellKind::Gru => (w.bias_ih.contiguous()?, Some(w.bias_hh.contiguous()?)),
                };
                Ok(Layer {
                    hidden: w.weight_hh.dim(1)?,
                    w_ih_t: w.weight_ih.t()?.contiguous()?,
                    w_hh_t: w.weight_hh.t()?.contiguous()?,
                    b_i,
                    b_h,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        if layers.is_empty() {
            bail!("a recurrent core needs at least one layer");
        }
        Ok(RecurrentCore { cell, layers })
    }

    /// The training core: weights named as in a checkpoint without the
    /// `core.` prefix (pass `vb.pp("core")`), created with PyTorch's
    /// initialisation, U(-1/sqrt(H), 1/sqrt(H)), when the builder's
    /// backend is a `VarMap` that lacks them. The layers hold views of the
    /// variables, never copies.
    pub fn from_var_builder(
        cell: CellKind,
        input_size: usize,
        hidden_sizes: &[usize],
        vb: VarBuilder,
    ) -> candle_core::Result<RecurrentCore> {
        let g = gates(cell);
        let mut input = input_size;
        let mut layers = Vec::with_capacity(hidden_sizes.len());
        for (k, &hidden) in hidden_sizes.iter().enumerate() {
            let bound = 1.0 / (hidden as f64).sqrt();
            let init = Init::Uniform {
                lo: -bound,
                up: bound,
            };
            let weight_ih =
                vb.get_with_hints((g * hidden, input), &format!("weight_ih_l{k}"), init)?;
            let weight_hh =
                vb.get_with_hints((g * hidden, hidden), &format!("weight_hh_l{k}"), init)?;
            let bias_ih = vb.get_with_hints(g * hidden, &format!("bias_ih_l{k}"), init)?;
            let bias_hh = vb.get_with_hints(g * hidden, &format!("bias_hh_l{k}"), init)?;
            layers.push(Layer {
                hidden,
                w_ih_t: weight_ih.t()?,
                w_hh_t: weight_hh.t()?,
                b_i: bias_ih,
                b_h: Some(bias_hh),
            });
            input = hidden;
        }
        if layers.is_empty() {
            bail!("a recurrent core needs at least one layer");
        }
        Ok(RecurrentCore { cell, layers })
    }

    /// Width of the input the bottom layer reads.
    pub fn input_size(&self) -> usize {
        self.layers[0].w_ih_t.dims()[0]
    }

    /// The width of every state tensor, in state order (for an LSTM
    /// `h0, c0, h1, c1, ...`, for a GRU `h0, h1, ...`).
    pub fn state_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        let per = state_tensors(self.cell);
        self.layers
            .iter()
            .flat_map(move |layer| std::iter::repeat_n(layer.hidden, per))
    }

    /// The state of a fresh sequence: zeros, `batch` rows.
    pub fn zero_state(&self, batch: usize, device: &Device) -> candle_core::Result<Vec<Tensor>> {
        self.state_sizes()
            .map(|hidden| Tensor::zeros((batch, hidden), DType::F32, device))
            .collect()
    }

    /// One step: `x` is (batch, input), `state` as [`RecurrentCore::zero_state`].
    /// Returns the top layer's h and the new state.
    pub fn step(&self, x: &Tensor, state: &[Tensor]) -> candle_core::Result<(Tensor, Vec<Tensor>)> {
        self.step_projected(&self.layers[0].project(x)?, state)
    }

    /// The bottom layer's input projection `x W_ih^T + b` (batch, gates *
    /// hidden) of `rows` feature rows laid end to end in `features`, summing
    /// only the weight rows of non-zero features: a feature vector that is
    /// mostly one-hots reads a small part of the largest matrix. One
    /// allocation, one tensor. Equal to the dense projection up to f32
    /// summation order.
    pub fn project_sparse(&self, features: &[f32], rows: usize) -> candle_core::Result<Tensor> {
        let layer = &self.layers[0];
        let (input, width) = layer.w_ih_t.dims2()?;
        if features.len() != rows * input {
            bail!("{} features for {rows} rows of {input}", features.len());
        }
        let dense = !layer.w_ih_t.device().is_cpu()
            || !layer.w_ih_t.is_contiguous()
            || !layer.b_i.is_contiguous();
        if dense {
            // A training core's transposed views: the plain matmul.
            let x = Tensor::from_slice(features, (rows, input), layer.w_ih_t.device())?;
            return layer.project(&x);
        }
        let (w_storage, w_layout) = layer.w_ih_t.storage_and_layout();
        let (b_storage, b_layout) = layer.b_i.storage_and_layout();
        let (Storage::Cpu(w), Storage::Cpu(b)) = (&*w_storage, &*b_storage) else {
            bail!("the sparse projection runs on the CPU");
        };
        let w = &w.as_slice::<f32>()?[w_layout.start_offset()..][..input * width];
        let b = &b.as_slice::<f32>()?[b_layout.start_offset()..][..width];
        let out = sparse::sparse_affine(features, rows, w, width, b);
        Tensor::from_vec(out, (rows, width), &Device::Cpu)
    }

    /// One step from the bottom layer's input projection (batch, gates *
    /// hidden), as [`RecurrentCore::project_sparse`] returns it.
    pub fn step_projected(
        &self,
        projected: &Tensor,
        state: &[Tensor],
    ) -> candle_core::Result<(Tensor, Vec<Tensor>)> {
        let per = self.check_state(state)?;
        let mut next: Vec<Tensor> = Vec::with_capacity(state.len());
        let mut gi = projected.clone();
        for (k, (layer, s)) in self.layers.iter().zip(state.chunks(per)).enumerate() {
            if k > 0 {
                // The layer below's new h.
                gi = layer.project(&next[next.len() - per])?;
            }
            next.extend(layer.cell(self.cell, &gi, s)?);
        }
        Ok((next[next.len() - per].clone(), next))
    }

    /// Checks `state` has one group of tensors per layer; returns the group size.
    fn check_state(&self, state: &[Tensor]) -> candle_core::Result<usize> {
        let per = state_tensors(self.cell);
        if state.len() != self.layers.len() * per {
            bail!(
                "{} state tensors for a core that carries {}",
                state.len(),
                self.layers.len() * per
            );
        }
        Ok(per)
    }

    /// Unrolls the core over a sequence: `xs` is (T, batch, input), `state`
    /// as [`RecurrentCore::zero_state`]. Returns every step's top h as
    /// (T, batch, hidden) and the final state. Each layer projects the whole
    /// sequence's input with one matmul; the same cell as
    /// [`RecurrentCore::step`] then runs T times.
    pub fn sequence(
        &self,
        xs: &Tensor,
        state: &[Tensor],
    ) -> candle_core::Result<(Tensor, Vec<Tensor>)> {
        let per = self.check_state(state)?;
        let (steps, batch, _) = xs.dims3()?;
        let mut input = xs.clone();
        let mut last = Vec::with_capacity(state.len());
        for (layer, s) in self.layers.iter().zip(state.chunks(per)) {
            let width = input.dim(2)?;
            let gi = layer
                .project(&input.reshape((steps * batch, width))?)?
                .reshape((steps, batch, ()))?;
            let mut s = s.to_vec();
            let mut hs = Vec::with_capacity(steps);
            for t in 0..steps {
                s = layer.cell(self.cell, &gi.get(t)?, &s)?;
                hs.push(s[0].clone());
            }
            input = Tensor::stack(&hs, 0)?;
            last.extend(s);
        }
        Ok((input, last))
    }
}

impl Layer {
    /// `x W_ih^T + b_i`: (batch, gates * hidden).
    fn project(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.w_ih_t)?.broadcast_add(&self.b_i)
    }

    /// `h W_hh^T + b_h`: (batch, gates * hidden).
    fn recur(&self, h: &Tensor) -> candle_core::Result<Tensor> {
        let gh = h.matmul(&self.w_hh_t)?;
        match &self.b_h {
            Some(b) => gh.broadcast_add(b),
            None => Ok(gh),
        }
    }

    /// The cell from the input projection `gi` and the layer's state.
    fn cell(
        &self,
        cell: CellKind,
        gi: &Tensor,
        state: &[Tensor],
    ) -> candle_core::Result<Vec<Tensor>> {
        let n = self.hidden;
        let gh = self.recur(&state[0])?;
        let gate = |t: &Tensor, k: usize| t.narrow(D::Minus1, k * n, n);
        match cell {
            CellKind::Lstm => {
                let gates = gi.add(&gh)?;
                let i = candle_nn::ops::sigmoid(&gate(&gates, 0)?)?;
                let f = candle_nn::ops::sigmoid(&gate(&gates, 1)?)?;
                let g = gate(&gates, 2)?.tanh()?;
                let o = candle_nn::ops::sigmoid(&gate(&gates, 3)?)?;
                let c = f.mul(&state[1])?.add(&i.mul(&g)?)?;
                let h = o.mul(&c.tanh()?)?;
                Ok(vec![h, c])
            }
            CellKind::Gru => {
                let r = candle_nn::ops::sigmoid(&gate(gi, 0)?.add(&gate(&gh, 0)?)?)?;
                let z = candle_nn::ops::sigmoid(&gate(gi, 1)?.add(&gate(&gh, 1)?)?)?;
                let candidate = gate(gi, 2)?.add(&r.mul(&gate(&gh, 2)?)?)?.tanh()?;
                // (1 - z) n + z h  ==  n + z (h - n)
                let h = candidate.add(&z.mul(&state[0].sub(&candidate)?)?)?;
                Ok(vec![h])
            }
        }
    }
}
