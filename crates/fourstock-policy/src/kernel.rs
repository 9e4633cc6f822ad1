//! The hand-written CPU kernel for the small batches live sessions step:
//! `y = x W + b` against a weight matrix packed once, at load time.
//!
//! At batch 1 a step is a stream of matrix-vector products bound by the
//! speed at which weights come from memory; at a few rows it is bound by
//! how often each weight is loaded. candle's matmul (gemm) packs its
//! operands on every call and is tuned for large products: on this
//! project's models a batch of 4 costs it 4 to 5 times a batch of 1.
//!
//! [`PackedWeights`] stores `W` (`[in, out]`) as panels of [`TILE`]
//! columns, each panel its `in` rows of `TILE` values end to end, so one
//! panel is a single sequential stream. For a group of up to [`GROUP`]
//! batch rows the kernel keeps the panel's outputs for every row in
//! registers while it walks the panel once: each weight is read from
//! memory once per group and used once per row. Inputs that are zero for
//! every row of the group are skipped, so one-hot features read only the
//! panel rows they pick.
//!
//! The x86-64 kernel (AVX2 and FMA) is chosen at run time; other CPUs take
//! a plain loop. `tests/kernel.rs` proves both equal to candle's matmul.

use candle_core::{Device, Tensor};

/// Columns per panel: two 8-wide vectors.
pub const TILE: usize = 16;
/// Batch rows that share one walk over a panel.
pub const GROUP: usize = 4;
/// Batches of at most this many rows go through the packed kernel; larger
/// ones through candle's matmul, which tiles for caches.
pub const SMALL_BATCH: usize = 16;

/// A weight matrix `[in, out]` in panels of [`TILE`] columns (the last one
/// zero-padded).
#[derive(Clone, Debug)]
pub struct PackedWeights {
    input: usize,
    out: usize,
    panels: Vec<f32>,
}

impl PackedWeights {
    /// Packs `w`, `[input, out]` row-major.
    pub fn new(w: &[f32], input: usize, out: usize) -> PackedWeights {
        assert_eq!(w.len(), input * out, "w is not [{input}, {out}]");
        let tiles = out.div_ceil(TILE);
        let mut panels = vec![0.0; tiles * input * TILE];
        for (i, row) in w.chunks_exact(out.max(1)).enumerate().take(input) {
            for (t, values) in row.chunks(TILE).enumerate() {
                let at = (t * input + i) * TILE;
                panels[at..at + values.len()].copy_from_slice(values);
            }
        }
        PackedWeights { input, out, panels }
    }

    /// Packs a `[in, out]` f32 CPU tensor.
    pub fn from_tensor(w: &Tensor) -> candle_core::Result<PackedWeights> {
        let (input, out) = w.dims2()?;
        let values = w.flatten_all()?.to_vec1::<f32>()?;
        Ok(PackedWeights::new(&values, input, out))
    }

    pub fn input(&self) -> usize {
        self.input
    }

    pub fn out(&self) -> usize {
        self.out
    }

    /// `x W + b` for `rows` rows of `x` laid end to end (`x.len()` is
    /// `rows * in`); `bias` has `out` values. Returns `rows * out` values,
    /// row after row.
    pub fn affine(&self, x: &[f32], rows: usize, bias: Option<&[f32]>) -> Vec<f32> {
        assert_eq!(
            x.len(),
            rows * self.input,
            "x is not {rows} rows of {}",
            self.input
        );
        if let Some(b) = bias {
            assert_eq!(b.len(), self.out, "bias is not [{}]", self.out);
        }
        let mut y = vec![0.0; rows * self.out];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features the kernel is compiled for.
            unsafe { avx2::affine(self, x, rows, bias, &mut y) };
            return y;
        }
        self.affine_plain(x, rows, bias, &mut y);
        y
    }

    /// [`PackedWeights::affine`] on tensors: `x` is `(rows, in)`; returns
    /// `(rows, out)`.
    pub fn affine_tensor(&self, x: &Tensor, bias: Option<&[f32]>) -> candle_core::Result<Tensor> {
        let (rows, input) = x.dims2()?;
        if input != self.input {
            candle_core::bail!(
                "x is (_, {input}) but the weights are [{}, {}]",
                self.input,
                self.out
            );
        }
        let y = self.affine(&x.flatten_all()?.to_vec1::<f32>()?, rows, bias);
        Tensor::from_vec(y, (rows, self.out), &Device::Cpu)
    }

    /// The portable form of [`PackedWeights::affine`], also what the tests
    /// hold the vector kernel against.
    pub fn affine_plain(&self, x: &[f32], rows: usize, bias: Option<&[f32]>, y: &mut [f32]) {
        let (input, out) = (self.input, self.out);
        for r in 0..rows {
            let xr = &x[r * input..(r + 1) * input];
            for t in 0..out.div_ceil(TILE) {
                let panel = &self.panels[t * input * TILE..(t + 1) * input * TILE];
                let mut acc = [0.0f32; TILE];
                for (&v, w) in xr.iter().zip(panel.chunks_exact(TILE)) {
                    if v != 0.0 {
                        for (a, &w) in acc.iter_mut().zip(w) {
                            *a = v.mul_add(w, *a);
                        }
                    }
                }
                store(&acc, t, r, out, bias, y);
            }
        }
    }
}

/// Writes one panel's outputs for batch row `r`, adding the bias.
#[inline(always)]
fn store(acc: &[f32; TILE], t: usize, r: usize, out: usize, bias: Option<&[f32]>, y: &mut [f32]) {
    let at = t * TILE;
    let n = TILE.min(out - at);
    let dst = &mut y[r * out + at..r * out + at + n];
    match bias {
        Some(b) => {
            for ((d, a), b) in dst.iter_mut().zip(acc).zip(&b[at..at + n]) {
                *d = a + b;
            }
        }
        None => dst.copy_from_slice(&acc[..n]),
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{store, PackedWeights, GROUP, TILE};

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn affine(
        p: &PackedWeights,
        x: &[f32],
        rows: usize,
        bias: Option<&[f32]>,
        y: &mut [f32],
    ) {
        let mut r = 0;
        while rows - r >= GROUP {
            group::<GROUP>(p, x, r, bias, y);
            r += GROUP;
        }
        match rows - r {
            3 => group::<3>(p, x, r, bias, y),
            2 => group::<2>(p, x, r, bias, y),
            1 => group::<1>(p, x, r, bias, y),
            _ => {}
        }
    }

    /// Batch rows `r0..r0 + G` through every panel.
    #[inline(always)]
    unsafe fn group<const G: usize>(
        p: &PackedWeights,
        x: &[f32],
        r0: usize,
        bias: Option<&[f32]>,
        y: &mut [f32],
    ) {
        let input = p.input;
        // The inputs that are non-zero for some row of the group, with the
        // group's values side by side: found once, used by every panel.
        let mut active = Vec::with_capacity(input);
        for i in 0..input {
            let v: [f32; G] = std::array::from_fn(|g| x[(r0 + g) * input + i]);
            if v.iter().any(|&v| v != 0.0) {
                active.push((i, v));
            }
        }
        for t in 0..p.out.div_ceil(TILE) {
            let panel = &p.panels[t * input * TILE..(t + 1) * input * TILE];
            let mut lo = [_mm256_setzero_ps(); G];
            let mut hi = [_mm256_setzero_ps(); G];
            for &(i, v) in &active {
                let w = &panel[i * TILE..(i + 1) * TILE];
                // SAFETY: `w` holds TILE = 16 values.
                let (wl, wh) = unsafe {
                    (
                        _mm256_loadu_ps(w.as_ptr()),
                        _mm256_loadu_ps(w.as_ptr().add(8)),
                    )
                };
                for g in 0..G {
                    let vb = _mm256_set1_ps(v[g]);
                    lo[g] = _mm256_fmadd_ps(vb, wl, lo[g]);
                    hi[g] = _mm256_fmadd_ps(vb, wh, hi[g]);
                }
            }
            for g in 0..G {
                let mut acc = [0.0f32; TILE];
                // SAFETY: `acc` holds TILE = 16 values.
                unsafe {
                    _mm256_storeu_ps(acc.as_mut_ptr(), lo[g]);
                    _mm256_storeu_ps(acc.as_mut_ptr().add(8), hi[g]);
                }
                store(&acc, t, r0 + g, p.out, bias, y);
            }
        }
    }
}
