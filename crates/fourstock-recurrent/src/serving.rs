//! The serving step: a batch of frames through the featurizer, the
//! recurrent core and the head as plain rows of f32, on weights packed once
//! at load, in buffers each thread keeps from one step to the next.
//!
//! A live step is a batch of one to a few dozen rows. At that size candle's
//! matmul repacks its operands on every call and each element-wise op
//! allocates a tensor, which cost a batch-16 step of the default model more
//! than its arithmetic. So [`ServingNet`], the one path every serving step
//! of this family takes:
//! - projects the bottom layer's input from each row's non-zero features
//!   ([`crate::featurizer::Featurizer::write_sparse`]), summing just the
//!   weight rows they pick (`fourstock_nn::sparse`);
//! - runs every other product on the packed small-batch kernel
//!   (`fourstock_nn::kernel`) and the gates on `fourstock_nn::cell`;
//! - reads each port's state from its `(1, n)` tensors and writes it back
//!   into them in place, through candle's user-land in-place op
//!   ([`Tensor::inplace_op1`]): a fresh tensor per state per step cost
//!   three allocations and three frees a tensor.
//!
//! Nothing else is allocated once a thread has stepped its largest batch.
//! Batches over [`SMALL_BATCH`] rows go through in chunks of that size.
//! `tests/serving.rs` holds every step equal to candle's tensor core
//! ([`crate::core::RecurrentCore`]) within 1e-5 over carried steps.

use std::cell::RefCell;

use candle_core::{CpuStorage, DType, InplaceOp1, Layout, Storage, Tensor};
use fourstock_nn::kernel::{PackedWeights, SMALL_BATCH};
use fourstock_nn::{cell, sparse};
use fourstock_policy::{PolicyError, PolicyState};

use crate::config::CellKind;
use crate::core::{gates, state_tensors, LayerWeights};

/// The packed weights of a serving policy.
pub struct ServingNet {
    model: String,
    cell: CellKind,
    /// Width of the feature vector.
    input: usize,
    layers: Vec<Layer>,
    head: PackedWeights,
    head_bias: Vec<f32>,
}

struct Layer {
    hidden: usize,
    input: Input,
    w_hh: PackedWeights,
    /// Added to the input projection: b_ih, or for an LSTM b_ih + b_hh.
    b_i: Vec<f32>,
    /// Added to `h W_hh^T`: a GRU's b_hh, which its n gate scales by r.
    b_h: Option<Vec<f32>>,
}

/// How a layer projects its input.
enum Input {
    /// The bottom layer: `W_ih^T` row-major, `[input, gates * hidden]`, of
    /// which a row's non-zero features pick the rows to sum.
    Sparse(Vec<f32>),
    /// An upper layer: the layer below's new h through the packed kernel.
    Packed(PackedWeights),
}

/// What a batch of rows is made of: its features, and each row's state.
pub trait Rows {
    fn count(&self) -> usize;
    /// The port row `r` plays, for errors.
    fn port(&self, r: usize) -> u8;
    /// Appends row `r`'s non-zero features, (index, value) in increasing
    /// index order.
    fn features(&self, r: usize, out: &mut Vec<(u32, f32)>) -> Result<(), PolicyError>;
    fn state(&mut self, r: usize) -> &mut PolicyState;
}

/// The buffers of a step, kept by each thread between steps.
#[derive(Default)]
struct Scratch {
    nonzeros: Vec<(u32, f32)>,
    /// Where each row's pairs end in `nonzeros`.
    row_ends: Vec<usize>,
    /// One buffer per state tensor (`h0, c0, h1, c1, ...` or `h0, h1, ...`),
    /// each `rows * hidden` values.
    states: Vec<Vec<f32>>,
    gi: Vec<f32>,
    gh: Vec<f32>,
    logits: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl ServingNet {
    /// Packs PyTorch-layout weights, bottom layer first, and the head's
    /// `weight` (out, hidden) and `bias` (out). Shapes must already be
    /// checked (see `checkpoint`).
    pub fn new(
        model: &str,
        cell: CellKind,
        weights: &[LayerWeights],
        head_weight: &Tensor,
        head_bias: &Tensor,
    ) -> candle_core::Result<ServingNet> {
        let transposed = |t: &Tensor| -> candle_core::Result<Vec<f32>> {
            t.t()?.contiguous()?.flatten_all()?.to_vec1::<f32>()
        };
        let packed = |t: &Tensor| -> candle_core::Result<PackedWeights> {
            let (out, input) = t.dims2()?;
            Ok(PackedWeights::new(&transposed(t)?, input, out))
        };
        let mut layers = Vec::with_capacity(weights.len());
        for (k, w) in weights.iter().enumerate() {
            let b_ih = w.bias_ih.to_vec1::<f32>()?;
            let b_hh = w.bias_hh.to_vec1::<f32>()?;
            let (b_i, b_h) = match cell {
                CellKind::Lstm => (b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect(), None),
                CellKind::Gru => (b_ih, Some(b_hh)),
            };
            let input = if k == 0 {
                Input::Sparse(transposed(&w.weight_ih)?)
            } else {
                Input::Packed(packed(&w.weight_ih)?)
            };
            layers.push(Layer {
                hidden: w.weight_hh.dim(1)?,
                input,
                w_hh: packed(&w.weight_hh)?,
                b_i,
                b_h,
            });
        }
        let Some(bottom) = weights.first() else {
            candle_core::bail!("a recurrent core needs at least one layer");
        };
        Ok(ServingNet {
            model: model.to_string(),
            cell,
            input: bottom.weight_ih.dim(1)?,
            layers,
            head: packed(head_weight)?,
            head_bias: head_bias.to_vec1::<f32>()?,
        })
    }

    /// How many logits a row's step ends in.
    pub fn outputs(&self) -> usize {
        self.head.out()
    }

    /// Advances every row's state by one step and calls `each` with the
    /// row's logits and its state, in row order. On an error no state has
    /// moved, except in the chunks of [`SMALL_BATCH`] rows before the one
    /// that failed.
    pub fn step<R: Rows + ?Sized>(
        &self,
        rows: &mut R,
        mut each: impl FnMut(&[f32], &mut PolicyState),
    ) -> Result<(), PolicyError> {
        SCRATCH.with_borrow_mut(|scratch| {
            let count = rows.count();
            for start in (0..count).step_by(SMALL_BATCH) {
                let end = count.min(start + SMALL_BATCH);
                self.step_chunk(rows, start..end, scratch)?;
                let width = self.outputs();
                for (r, logits) in (start..end).zip(scratch.logits.chunks_exact(width)) {
                    each(logits, rows.state(r));
                }
            }
            Ok(())
        })
    }

    /// One chunk of at most [`SMALL_BATCH`] rows: states advanced, logits
    /// in `scratch.logits`.
    fn step_chunk<R: Rows + ?Sized>(
        &self,
        rows: &mut R,
        range: std::ops::Range<usize>,
        scratch: &mut Scratch,
    ) -> Result<(), PolicyError> {
        let count = range.len();
        let per = state_tensors(self.cell);
        let g = gates(self.cell);
        // Features and states in, all checked before anything moves.
        scratch.nonzeros.clear();
        scratch.row_ends.clear();
        for r in range.clone() {
            rows.features(r, &mut scratch.nonzeros)?;
            scratch.row_ends.push(scratch.nonzeros.len());
        }
        if let Some(&(j, _)) = scratch
            .nonzeros
            .iter()
            .find(|(j, _)| *j as usize >= self.input)
        {
            return Err(PolicyError::Inputs {
                model: self.model.clone(),
                expected: self.input,
                got: j as usize + 1,
            });
        }
        scratch
            .states
            .resize_with(self.layers.len() * per, Vec::new);
        for (k, hidden) in self.state_sizes().enumerate() {
            scratch.states[k].resize(count * hidden, 0.0);
        }
        for (i, r) in range.clone().enumerate() {
            let port = rows.port(r);
            let state = rows.state(r);
            if state.tensors.len() != scratch.states.len() {
                return Err(self.foreign(port, state));
            }
            for (k, hidden) in self.state_sizes().enumerate() {
                let into = &mut scratch.states[k][i * hidden..(i + 1) * hidden];
                if !read_state(&state.tensors[k], into)? {
                    return Err(self.foreign(port, state));
                }
            }
        }
        // The core, layer by layer; each cell updates its h and c in place.
        for (l, layer) in self.layers.iter().enumerate() {
            let n = layer.hidden;
            let width = g * n;
            scratch.gi.resize(count * width, 0.0);
            scratch.gh.resize(count * width, 0.0);
            let (below, this) = scratch.states.split_at_mut(l * per);
            match &layer.input {
                Input::Sparse(w) => {
                    let mut from = 0;
                    for (&to, gi) in scratch
                        .row_ends
                        .iter()
                        .zip(scratch.gi.chunks_exact_mut(width))
                    {
                        sparse::sparse_row_into(
                            &scratch.nonzeros[from..to],
                            w,
                            width,
                            &layer.b_i,
                            gi,
                        );
                        from = to;
                    }
                }
                Input::Packed(w) => {
                    let h_below = &below[(l - 1) * per];
                    w.affine_into(h_below, count, Some(&layer.b_i), &mut scratch.gi);
                }
            }
            let (h, rest) = this.split_first_mut().expect("a layer has its h");
            layer
                .w_hh
                .affine_into(h, count, layer.b_h.as_deref(), &mut scratch.gh);
            match self.cell {
                CellKind::Lstm => cell::lstm_rows(&mut scratch.gi, &scratch.gh, &mut rest[0], h, n),
                CellKind::Gru => cell::gru_rows(&mut scratch.gi, &scratch.gh, h, n),
            }
        }
        let top = &scratch.states[(self.layers.len() - 1) * per];
        scratch.logits.resize(count * self.outputs(), 0.0);
        self.head
            .affine_into(top, count, Some(&self.head_bias), &mut scratch.logits);
        // States out, into the ports' own tensors.
        for (i, r) in range.enumerate() {
            let state = rows.state(r);
            for (k, hidden) in self.state_sizes().enumerate() {
                let values = &scratch.states[k][i * hidden..(i + 1) * hidden];
                state.tensors[k].inplace_op1(&Overwrite(values))?;
            }
        }
        Ok(())
    }

    /// The width of every state tensor, in state order.
    fn state_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        let per = state_tensors(self.cell);
        self.layers
            .iter()
            .flat_map(move |layer| std::iter::repeat_n(layer.hidden, per))
    }

    fn foreign(&self, port: u8, state: &PolicyState) -> PolicyError {
        let shapes: Vec<_> = state.tensors.iter().map(|t| t.dims().to_vec()).collect();
        PolicyError::ForeignState {
            model: self.model.clone(),
            port,
            detail: format!(
                "state tensors of shapes {shapes:?}; expected (1, h) for h in {:?}",
                self.state_sizes().collect::<Vec<_>>()
            ),
        }
    }
}

/// Writes its values over a contiguous f32 tensor of as many elements on
/// the CPU, in place.
struct Overwrite<'a>(&'a [f32]);

impl InplaceOp1 for Overwrite<'_> {
    fn name(&self) -> &'static str {
        "overwrite"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        match (storage, layout.contiguous_offsets()) {
            (CpuStorage::F32(values), Some((start, end))) if end - start == self.0.len() => {
                values[start..end].copy_from_slice(self.0);
                Ok(())
            }
            _ => candle_core::bail!(
                "a state tensor to overwrite is not {} contiguous f32",
                self.0.len()
            ),
        }
    }
}

/// Copies a `(1, into.len())` f32 state tensor into `into`. `Ok(false)`
/// if it is not that, or not contiguous on the CPU, where this family
/// makes its states: another policy made it, and it could not be written
/// back in place either.
fn read_state(t: &Tensor, into: &mut [f32]) -> candle_core::Result<bool> {
    if t.dims() != [1, into.len()] || t.dtype() != DType::F32 {
        return Ok(false);
    }
    let (storage, layout) = t.storage_and_layout();
    let (Storage::Cpu(cpu), Some((start, end))) = (&*storage, layout.contiguous_offsets()) else {
        return Ok(false);
    };
    into.copy_from_slice(&cpu.as_slice::<f32>()?[start..end]);
    Ok(true)
}
