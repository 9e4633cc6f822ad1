//! slippi-ai's `tx_like` core ("TransformerLike"): a Linear encoder, then
//! per layer a residual LSTM (`x = x + h'`) and a residual feed-forward
//! block, all of width H.
//!
//! The LSTM is flax's `nnx.LSTMCell`: separate gate kernels, the input ones
//! (`ii, if_, ig, io`) without bias, the hidden ones (`hi, hf, hg, ho`) with:
//! `i = σ(ii x + hi h)`, `f = σ(if x + hf h)`, `g = tanh(ig x + hg h)`,
//! `o = σ(io x + ho h)`, `c' = f c + i g`, `h' = o tanh(c')`, no forget
//! bias offset, carry ordered (c, h). The four gates are concatenated here
//! into one `[H, 4H]` kernel per side, so a layer is two matmuls.
//!
//! State: `2 * num_layers` tensors of shape `(batch, H)`, `c0, h0, c1, h1, ...`.

use candle_core::{DType, Device, Tensor, D};
use fourstock_nn::cell;
use fourstock_nn::kernel::{self, PackedWeights};
use fourstock_nn::layers::{ActivationFn, LayerNorm, Linear};

use crate::config::CoreConfig;
use crate::weights::{names, WeightMap};

/// slippi-ai's residual feed-forward block:
/// `x + linear2(act(linear1(layer_norm(x))))`.
#[derive(Clone, Debug)]
pub struct ResBlock {
    pub layer_norm: LayerNorm,
    pub linear1: Linear,
    pub activation: ActivationFn,
    pub linear2: Linear,
}

impl ResBlock {
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = self.layer_norm.forward(x)?;
        let y = self.linear1.forward(&y)?;
        let y = self.activation.forward(&y)?;
        let y = self.linear2.forward(&y)?;
        x.add(&y)
    }

    /// `x` holds `rows` rows end to end; the block's output replaces it.
    pub fn forward_rows(&self, x: &mut [f32], rows: usize) {
        let mut y = x.to_vec();
        self.layer_norm.forward_rows(&mut y);
        let mut y = self.linear1.forward_rows(&y, rows);
        self.activation.apply(&mut y);
        let y = self.linear2.forward_rows(&y, rows);
        for (v, d) in x.iter_mut().zip(&y) {
            *v += d;
        }
    }
}

/// One LSTM cell with its gates fused. Its kernels are held once, packed
/// for [`fourstock_nn::kernel`], which both step forms multiply through.
#[derive(Clone, Debug)]
pub struct LstmCell {
    hidden: usize,
    /// `[in, 4H]`: i, f, g, o.
    input_packed: PackedWeights,
    /// `[H, 4H]`: i, f, g, o.
    hidden_packed: PackedWeights,
    /// `[4H]`: the hidden side's biases.
    bias: Vec<f32>,
}

impl LstmCell {
    /// Reads flax's eight gate kernels and four biases under `prefix`.
    pub fn from_weights(prefix: &str, w: &mut WeightMap) -> Result<LstmCell, crate::SlippiError> {
        let mut inputs = Vec::new();
        let mut hiddens = Vec::new();
        let mut biases = Vec::new();
        for (input_gate, hidden_gate) in names::LSTM_GATES {
            inputs.push(w.take(&format!("{prefix}/{input_gate}/kernel"))?);
            hiddens.push(w.take(&format!("{prefix}/{hidden_gate}/kernel"))?);
            biases.push(w.take(&format!("{prefix}/{hidden_gate}/bias"))?);
        }
        let hidden = hiddens[0].dims()[0];
        Ok(LstmCell {
            hidden,
            input_packed: PackedWeights::from_tensor_as(&Tensor::cat(&inputs, 1)?, w.precision())?,
            hidden_packed: PackedWeights::from_tensor_as(
                &Tensor::cat(&hiddens, 1)?,
                w.precision(),
            )?,
            bias: Tensor::cat(&biases, 0)?.to_vec1()?,
        })
    }

    /// One step; returns `(c', h')`.
    pub fn step(
        &self,
        x: &Tensor,
        c: &Tensor,
        h: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let n = self.hidden;
        let gates = self
            .input_packed
            .affine_tensor(x, None)?
            .add(&self.hidden_packed.affine_tensor(h, Some(&self.bias))?)?;
        let i = candle_nn::ops::sigmoid(&gates.narrow(D::Minus1, 0, n)?)?;
        let f = candle_nn::ops::sigmoid(&gates.narrow(D::Minus1, n, n)?)?;
        let g = gates.narrow(D::Minus1, 2 * n, n)?.tanh()?;
        let o = candle_nn::ops::sigmoid(&gates.narrow(D::Minus1, 3 * n, n)?)?;
        let c = f.mul(c)?.add(&i.mul(&g)?)?;
        let h = o.mul(&c.tanh()?)?;
        Ok((c, h))
    }

    /// [`LstmCell::step`] on `rows` rows end to end: `c` and `h` are
    /// updated in place.
    pub fn step_rows(&self, x: &[f32], c: &mut [f32], h: &mut [f32], rows: usize) {
        let n = self.hidden;
        let mut from_x = self.input_packed.affine(x, rows, None);
        let from_h = self.hidden_packed.affine(h, rows, Some(&self.bias));
        cell::lstm_rows(&mut from_x, &from_h, c, h, n);
    }
}

/// One layer of the stack: residual LSTM, then residual feed-forward block.
#[derive(Clone, Debug)]
struct TxLayer {
    lstm: LstmCell,
    ffw: ResBlock,
}

/// The whole `tx_like` stack.
#[derive(Clone, Debug)]
pub struct TxLikeCore {
    hidden: usize,
    encoder: Linear,
    layers: Vec<TxLayer>,
}

impl TxLikeCore {
    /// Takes the core's tensors, by slippi-ai name, out of `w`.
    pub fn from_weights(
        config: &CoreConfig,
        w: &mut WeightMap,
    ) -> Result<TxLikeCore, crate::SlippiError> {
        let encoder = w.linear(&names::encoder("kernel"), &names::encoder("bias"))?;
        let activation = ActivationFn {
            kind: config.activation,
            gelu_approximate: config.gelu_approximate,
        };
        let mut layers = Vec::with_capacity(config.num_layers);
        for k in 0..config.num_layers {
            let lstm = LstmCell::from_weights(&names::lstm(k), w)?;
            let ffw = names::ffw(k);
            let block = ResBlock {
                layer_norm: LayerNorm::new(
                    config.layer_norm,
                    w.take(&format!("{ffw}/layernorm/scale"))?,
                    w.take(&format!("{ffw}/layernorm/bias"))?,
                )?,
                linear1: w.linear(
                    &format!("{ffw}/linear1/kernel"),
                    &format!("{ffw}/linear1/bias"),
                )?,
                activation,
                linear2: w.linear(
                    &format!("{ffw}/linear2/kernel"),
                    &format!("{ffw}/linear2/bias"),
                )?,
            };
            layers.push(TxLayer { lstm, ffw: block });
        }
        Ok(TxLikeCore {
            hidden: config.hidden_size,
            encoder,
            layers,
        })
    }

    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// How many state tensors the core carries.
    pub fn state_len(&self) -> usize {
        2 * self.layers.len()
    }

    /// slippi-ai's initial state: zeros, `batch` rows.
    pub fn zero_state(&self, batch: usize, device: &Device) -> candle_core::Result<Vec<Tensor>> {
        (0..self.state_len())
            .map(|_| Tensor::zeros((batch, self.hidden), DType::F32, device))
            .collect()
    }

    /// One step: `x` is the embedded input `(batch, input)`, `state` as
    /// [`TxLikeCore::zero_state`]. Returns the output `(batch, H)` and the
    /// new state. The batches [`kernel::takes_rows`] picks take
    /// [`TxLikeCore::step_rows`], the others [`TxLikeCore::step_tensors`].
    pub fn step(&self, x: &Tensor, state: &[Tensor]) -> candle_core::Result<(Tensor, Vec<Tensor>)> {
        if kernel::takes_rows(x.dim(0)?, x.device()) {
            self.step_rows(x, state)
        } else {
            self.step_tensors(x, state)
        }
    }

    fn check_state(&self, state: &[Tensor]) -> candle_core::Result<()> {
        if state.len() != self.state_len() {
            return Err(candle_core::Error::Msg(format!(
                "the tx_like core carries {} state tensors, got {}",
                self.state_len(),
                state.len()
            )));
        }
        Ok(())
    }

    /// The step as plain loops over rows and the hand-written kernel: what
    /// a live session's batch of one takes, where candle's per-op cost is
    /// a fifth of the step.
    pub fn step_rows(
        &self,
        x: &Tensor,
        state: &[Tensor],
    ) -> candle_core::Result<(Tensor, Vec<Tensor>)> {
        self.check_state(state)?;
        let rows = x.dim(0)?;
        let values = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
        let mut x = self.encoder.forward_rows(&values(x)?, rows);
        let mut next = Vec::with_capacity(state.len());
        for (layer, carry) in self.layers.iter().zip(state.chunks(2)) {
            let (mut c, mut h) = (values(&carry[0])?, values(&carry[1])?);
            layer.lstm.step_rows(&x, &mut c, &mut h, rows);
            for (v, d) in x.iter_mut().zip(&h) {
                *v += d;
            }
            layer.ffw.forward_rows(&mut x, rows);
            next.push(Tensor::from_vec(c, (rows, self.hidden), &Device::Cpu)?);
            next.push(Tensor::from_vec(h, (rows, self.hidden), &Device::Cpu)?);
        }
        Ok((
            Tensor::from_vec(x, (rows, self.hidden), &Device::Cpu)?,
            next,
        ))
    }

    /// The step as candle tensor ops: large batches, and the reference
    /// [`TxLikeCore::step_rows`] is tested against.
    pub fn step_tensors(
        &self,
        x: &Tensor,
        state: &[Tensor],
    ) -> candle_core::Result<(Tensor, Vec<Tensor>)> {
        self.check_state(state)?;
        let mut x = self.encoder.forward(x)?;
        let mut next = Vec::with_capacity(state.len());
        for (layer, carry) in self.layers.iter().zip(state.chunks(2)) {
            let (c, h) = layer.lstm.step(&x, &carry[0], &carry[1])?;
            x = x.add(&h)?;
            next.push(c);
            next.push(h);
            x = layer.ffw.forward(&x)?;
        }
        Ok((x, next))
    }
}
