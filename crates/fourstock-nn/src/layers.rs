//! The feed-forward building blocks of slippi-ai's JAX networks, on candle:
//! flax's `Linear` (kernel stored `[in, out]`, `y = x @ kernel + bias`),
//! the two LayerNorms and the activations.
//!
//! Each block has two forms: `forward` on candle tensors, and
//! `forward_rows` on plain rows of f32 laid end to end, which the small
//! batches of live sessions take: the rest is a loop, with none of a tensor
//! op's allocation and dispatch. Both forms multiply through the
//! hand-written packed `x W + b` kernel ([`crate::kernel`], proved equal to
//! candle's matmul in `tests/kernel.rs`), so a served model holds each
//! weight matrix once, packed. The two forms compute the same formulas;
//! slippi-ai's `tests/small_batch.rs` tests them equal.

use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};

use crate::activation;
use crate::kernel::{PackedWeights, Precision};

/// The activation inside each residual feed-forward block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Relu,
    Gelu,
    Tanh,
}

/// Which LayerNorm the feed-forward blocks use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerNormKind {
    /// flax's: eps 1e-6, variance as `mean(x²) - mean(x)²` clipped at 0.
    Nnx,
    /// Legacy TensorFlow policies': `(x - mean) / sqrt(mean((x - mean)²))`, no epsilon.
    Tensorflow,
}

/// flax's LayerNorm epsilon.
pub const FLAX_LAYER_NORM_EPS: f64 = 1e-6;

/// A flax `Linear`.
#[derive(Clone, Debug)]
pub struct Linear {
    /// The kernel (`[in, out]`), packed.
    packed: PackedWeights,
    /// `[out]`
    bias: Option<Vec<f32>>,
}

impl Linear {
    /// From flax's kernel `[in, out]` and bias `[out]`.
    pub fn new(kernel: Tensor, bias: Option<Tensor>) -> candle_core::Result<Linear> {
        Linear::with_precision(kernel, bias, Precision::F32)
    }

    /// [`Linear::new`], the kernel held in `precision` (the bias stays f32).
    pub fn with_precision(
        kernel: Tensor,
        bias: Option<Tensor>,
        precision: Precision,
    ) -> candle_core::Result<Linear> {
        Ok(Linear {
            packed: PackedWeights::from_tensor_as(&kernel, precision)?,
            bias: bias
                .as_ref()
                .map(|b| b.flatten_all()?.to_vec1::<f32>())
                .transpose()?,
        })
    }

    pub fn out_features(&self) -> usize {
        self.packed.out()
    }

    /// `x` is `(batch, in)`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.packed.affine_tensor(x, self.bias.as_deref())
    }

    /// `rows` rows of `x`, end to end; returns `rows` rows of output.
    pub fn forward_rows(&self, x: &[f32], rows: usize) -> Vec<f32> {
        self.packed.affine(x, rows, self.bias.as_deref())
    }
}

/// A LayerNorm over the last axis.
#[derive(Clone, Debug)]
pub struct LayerNorm {
    kind: LayerNormKind,
    scale: Tensor,
    bias: Tensor,
    /// The same, for [`LayerNorm::forward_rows`].
    scale_values: Vec<f32>,
    bias_values: Vec<f32>,
}

impl LayerNorm {
    pub fn new(kind: LayerNormKind, scale: Tensor, bias: Tensor) -> candle_core::Result<LayerNorm> {
        Ok(LayerNorm {
            kind,
            scale_values: scale.flatten_all()?.to_vec1()?,
            bias_values: bias.flatten_all()?.to_vec1()?,
            scale,
            bias,
        })
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centered = x.broadcast_sub(&mean)?;
        let normalised = match self.kind {
            LayerNormKind::Nnx => {
                // flax's fast variance: mean(x²) - mean(x)², clipped at 0.
                let mean2 = x.sqr()?.mean_keepdim(D::Minus1)?;
                let var = mean2.sub(&mean.sqr()?)?.relu()?;
                let inv = (var + FLAX_LAYER_NORM_EPS)?.sqrt()?.recip()?;
                centered.broadcast_mul(&inv)?
            }
            LayerNormKind::Tensorflow => {
                let std = centered.sqr()?.mean_keepdim(D::Minus1)?.sqrt()?;
                centered.broadcast_div(&std)?
            }
        };
        normalised
            .broadcast_mul(&self.scale)?
            .broadcast_add(&self.bias)
    }

    /// Normalises each row of `x` (rows end to end) in place.
    pub fn forward_rows(&self, x: &mut [f32]) {
        let width = self.scale_values.len();
        let n = width as f32;
        for row in x.chunks_exact_mut(width) {
            let mean = row.iter().sum::<f32>() / n;
            let inv = match self.kind {
                LayerNormKind::Nnx => {
                    let mean2 = row.iter().map(|v| v * v).sum::<f32>() / n;
                    let var = (mean2 - mean * mean).max(0.0);
                    1.0 / (var + FLAX_LAYER_NORM_EPS as f32).sqrt()
                }
                LayerNormKind::Tensorflow => {
                    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
                    1.0 / var.sqrt()
                }
            };
            for ((v, s), b) in row
                .iter_mut()
                .zip(&self.scale_values)
                .zip(&self.bias_values)
            {
                *v = (*v - mean) * inv * s + b;
            }
        }
    }
}

/// An activation, with GELU in its tanh or exact form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActivationFn {
    pub kind: Activation,
    pub gelu_approximate: bool,
}

impl ActivationFn {
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self.kind {
            Activation::Relu => x.relu(),
            Activation::Tanh => x.tanh(),
            // candle's `gelu` is the tanh form
            // 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³))).
            Activation::Gelu if self.gelu_approximate => x.gelu(),
            Activation::Gelu => x.gelu_erf(),
        }
    }

    /// The same function on every value of a slice, in place.
    pub fn apply(&self, values: &mut [f32]) {
        match self.kind {
            Activation::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
            Activation::Tanh => activation::tanh(values),
            Activation::Gelu if self.gelu_approximate => {
                #[allow(clippy::excessive_precision)]
                const SQRT_2_OVER_PI: f32 = 0.797_884_560_802_865_4; // candle's
                let mut t: Vec<f32> = values
                    .iter()
                    .map(|x| SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
                    .collect();
                activation::tanh(&mut t);
                for (x, t) in values.iter_mut().zip(&t) {
                    *x = 0.5 * *x * (1.0 + t);
                }
            }
            Activation::Gelu => values.iter_mut().for_each(|x| {
                *x = (candle_core::cpu::erf::erf_f32(*x * std::f32::consts::FRAC_1_SQRT_2) + 1.0)
                    * 0.5
                    * *x
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_slice(v, (1, v.len()), &Device::Cpu).unwrap()
    }

    fn row(x: &Tensor) -> Vec<f32> {
        x.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn linear_reads_flax_kernels_as_in_by_out() {
        let kernel = Tensor::from_slice(&[1f32, 2., 3., 4., 5., 6.], (2, 3), &Device::Cpu).unwrap();
        let bias = Tensor::from_slice(&[0.5f32, 0., -0.5], 3, &Device::Cpu).unwrap();
        let linear = Linear::new(kernel, Some(bias)).unwrap();
        assert_eq!(
            row(&linear.forward(&t(&[1.0, 10.0])).unwrap()),
            [41.5, 52.0, 62.5]
        );
    }

    #[test]
    fn layer_norms_differ_only_by_epsilon() {
        let ones = t(&[1.0; 4]);
        let zeros = t(&[0.0; 4]);
        let x = t(&[1.0, 2.0, 3.0, 6.0]);
        let flax = LayerNorm::new(LayerNormKind::Nnx, ones.clone(), zeros.clone()).unwrap();
        let tf = LayerNorm::new(LayerNormKind::Tensorflow, ones, zeros).unwrap();
        let a = row(&flax.forward(&x).unwrap());
        let b = row(&tf.forward(&x).unwrap());
        // mean 3, variance 3.5
        let expect: Vec<f32> = [-2.0f32, -1.0, 0.0, 3.0]
            .iter()
            .map(|v| v / 3.5f32.sqrt())
            .collect();
        for ((a, b), e) in a.iter().zip(&b).zip(&expect) {
            assert!((a - e).abs() < 1e-6, "flax {a} vs {e}");
            assert!((b - e).abs() < 1e-6, "tensorflow {b} vs {e}");
        }
        // A constant row under flax is exactly the bias (the demo's H = 1 case).
        let bias = t(&[0.25]);
        let one = LayerNorm::new(LayerNormKind::Nnx, t(&[3.0]), bias).unwrap();
        assert_eq!(row(&one.forward(&t(&[7.5])).unwrap()), [0.25]);
    }

    #[test]
    fn gelu_forms() {
        let x = t(&[-1.0, 0.5, 2.0]);
        let exact = ActivationFn {
            kind: Activation::Gelu,
            gelu_approximate: false,
        };
        let approx = ActivationFn {
            kind: Activation::Gelu,
            gelu_approximate: true,
        };
        let e = row(&exact.forward(&x).unwrap());
        let a = row(&approx.forward(&x).unwrap());
        let reference = [-0.158_655_25f32, 0.345_731_14, 1.954_499_7];
        for (v, r) in e.iter().zip(reference) {
            assert!((v - r).abs() < 1e-6, "{v} vs {r}");
        }
        for (v, x) in a.iter().zip([-1.0f32, 0.5, 2.0]) {
            let r = 0.5
                * x
                * (1.0 + ((2.0 / std::f32::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh());
            assert!((v - r).abs() < 1e-6);
        }
    }
}
