//! slippi-ai's autoregressive controller head: the core's output is
//! projected to a residual of width R, then the 13 controller components
//! are decided one after another, each conditioned on the ones before.
//!
//! For component k of embedding width e:
//! 1. `logits = encoder_k(concat[residual, embed(prev_k)])`, where `prev_k`
//!    is the same component on the previous frame and `encoder_k` is
//!    `[Linear(· → R), relu] * depth` then `Linear(· → e)`;
//! 2. a class is chosen from the logits (the recorded target under teacher
//!    forcing, a sample when serving);
//! 3. `residual += decoder_k(embed(class))`.
//!
//! `embed` is `[0|1]` for a button and a one-hot otherwise.

use candle_core::{Device, Tensor};

use crate::config::HeadConfig;
use crate::controller::{ControllerClasses, ControllerSpace, COMPONENTS};
use crate::weights::{names, WeightMap};
use crate::SlippiError;
use fourstock_nn::kernel;
use fourstock_nn::layers::Linear;

#[derive(Clone, Debug)]
struct ComponentBlock {
    /// `depth + 1` layers; relu between them.
    encoder: Vec<Linear>,
    decoder: Linear,
}

/// What one pass of the head decided.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeadOutput {
    /// The chosen class of every component, per row.
    pub controllers: Vec<ControllerClasses>,
    /// Per row, per component: the raw logits (before sigmoid or softmax).
    /// Empty unless asked for.
    pub logits: Vec<Vec<Vec<f32>>>,
}

impl HeadOutput {
    /// Nothing decided yet for `batch` rows; room for logits if kept.
    fn empty(batch: usize, keep_logits: bool) -> HeadOutput {
        HeadOutput {
            controllers: vec![ControllerClasses::default(); batch],
            logits: if keep_logits {
                vec![Vec::with_capacity(COMPONENTS); batch]
            } else {
                Vec::new()
            },
        }
    }
}

#[derive(Clone, Debug)]
pub struct AutoregressiveHead {
    space: ControllerSpace,
    to_residual: Linear,
    blocks: Vec<ComponentBlock>,
}

impl AutoregressiveHead {
    /// Takes the head's tensors, by slippi-ai name, out of `w`.
    pub fn from_weights(
        config: &HeadConfig,
        space: ControllerSpace,
        w: &mut WeightMap,
    ) -> Result<AutoregressiveHead, SlippiError> {
        let linear = |w: &mut WeightMap, kernel: String, bias: String| w.linear(&kernel, &bias);
        let to_residual = linear(w, names::to_residual("kernel"), names::to_residual("bias"))?;
        let mut blocks = Vec::with_capacity(COMPONENTS);
        for c in 0..COMPONENTS {
            let encoder = (0..=config.component_depth)
                .map(|j| {
                    linear(
                        w,
                        names::component_encoder(c, j, "kernel"),
                        names::component_encoder(c, j, "bias"),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            let decoder = linear(
                w,
                names::component_decoder(c, "kernel"),
                names::component_decoder(c, "bias"),
            )?;
            blocks.push(ComponentBlock { encoder, decoder });
        }
        Ok(AutoregressiveHead {
            space,
            to_residual,
            blocks,
        })
    }

    pub fn space(&self) -> ControllerSpace {
        self.space
    }

    /// Embeds component `k` of every row as a `(batch, width)` tensor.
    fn embed(
        &self,
        k: usize,
        classes: impl Iterator<Item = u8>,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let width = self.space.width(k);
        let mut values = Vec::new();
        let mut rows = 0;
        for class in classes {
            let at = values.len();
            values.resize(at + width, 0.0);
            self.space.embed(k, class, &mut values[at..]);
            rows += 1;
        }
        Tensor::from_vec(values, (rows, width), device)
    }

    /// Runs the 13 components for a batch. `core_out` is `(batch, H)`;
    /// `prev` holds each row's previous controller. `choose(row, component,
    /// logits)` picks each row's class for each component. With
    /// `keep_logits`, every component's logits are returned too. The
    /// batches [`kernel::takes_rows`] picks take [`AutoregressiveHead::run_rows`],
    /// the others [`AutoregressiveHead::run_tensors`].
    pub fn run(
        &self,
        core_out: &Tensor,
        prev: &[ControllerClasses],
        keep_logits: bool,
        choose: impl FnMut(usize, usize, &[f32]) -> u8,
    ) -> candle_core::Result<HeadOutput> {
        if kernel::takes_rows(prev.len(), core_out.device()) {
            self.run_rows(core_out, prev, keep_logits, choose)
        } else {
            self.run_tensors(core_out, prev, keep_logits, choose)
        }
    }

    /// [`AutoregressiveHead::run`] as plain loops over rows and the
    /// hand-written kernel: a live session's batch of one, where the head
    /// is some eighty small tensor ops.
    pub fn run_rows(
        &self,
        core_out: &Tensor,
        prev: &[ControllerClasses],
        keep_logits: bool,
        mut choose: impl FnMut(usize, usize, &[f32]) -> u8,
    ) -> candle_core::Result<HeadOutput> {
        let batch = prev.len();
        let width = self.to_residual.out_features();
        let core_values = core_out.flatten_all()?.to_vec1::<f32>()?;
        let mut residual = self.to_residual.forward_rows(&core_values, batch);
        let mut out = HeadOutput::empty(batch, keep_logits);
        for (k, block) in self.blocks.iter().enumerate() {
            let e = self.space.width(k);
            // concat[residual, embed(prev_k)] per row
            let mut x = Vec::with_capacity(batch * (width + e));
            for (row, p) in prev.iter().enumerate() {
                x.extend_from_slice(&residual[row * width..(row + 1) * width]);
                let at = x.len();
                x.resize(at + e, 0.0);
                self.space.embed(k, p.0[k], &mut x[at..]);
            }
            let last = block.encoder.len() - 1;
            for (j, layer) in block.encoder.iter().enumerate() {
                x = layer.forward_rows(&x, batch);
                if j < last {
                    for v in x.iter_mut() {
                        *v = v.max(0.0);
                    }
                }
            }
            let mut chosen = vec![0.0; batch * e];
            for (row, logits) in x.chunks_exact(e).enumerate() {
                let class = choose(row, k, logits);
                out.controllers[row].0[k] = class;
                if keep_logits {
                    out.logits[row].push(logits.to_vec());
                }
                self.space
                    .embed(k, class, &mut chosen[row * e..(row + 1) * e]);
            }
            let decoded = block.decoder.forward_rows(&chosen, batch);
            for (r, d) in residual.iter_mut().zip(&decoded) {
                *r += d;
            }
        }
        Ok(out)
    }

    /// [`AutoregressiveHead::run`] as candle tensor ops: large batches, and
    /// the reference [`AutoregressiveHead::run_rows`] is tested against.
    pub fn run_tensors(
        &self,
        core_out: &Tensor,
        prev: &[ControllerClasses],
        keep_logits: bool,
        mut choose: impl FnMut(usize, usize, &[f32]) -> u8,
    ) -> candle_core::Result<HeadOutput> {
        let device = core_out.device();
        let batch = prev.len();
        let mut residual = self.to_residual.forward(core_out)?;
        let mut out = HeadOutput::empty(batch, keep_logits);
        for (k, block) in self.blocks.iter().enumerate() {
            let prev_k = self.embed(k, prev.iter().map(|p| p.0[k]), device)?;
            let mut x = Tensor::cat(&[&residual, &prev_k], 1)?;
            let last = block.encoder.len() - 1;
            for (j, layer) in block.encoder.iter().enumerate() {
                x = layer.forward(&x)?;
                if j < last {
                    x = x.relu()?;
                }
            }
            let logits = x.to_vec2::<f32>()?;
            for (row, l) in logits.into_iter().enumerate() {
                out.controllers[row].0[k] = choose(row, k, &l);
                if keep_logits {
                    out.logits[row].push(l);
                }
            }
            let chosen = self.embed(k, out.controllers.iter().map(|c| c.0[k]), device)?;
            residual = residual.add(&block.decoder.forward(&chosen)?)?;
        }
        Ok(out)
    }
}
