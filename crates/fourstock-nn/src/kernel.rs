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
//! columns, each panel its `in` rows of `TILE` values end to end, so the
//! whole matrix is one sequential stream. For a group of batch rows (4
//! with AVX2, 8 with AVX-512) the kernel keeps the panel's outputs for
//! every row in registers while it walks the panel once; panels are the
//! outer loop, so each weight comes from memory once per step and from
//! cache for every further group. Inputs that are zero for every row of
//! the group are skipped, so one-hot features read only the panel rows
//! they pick. A batch of one reads its input row directly and spreads it
//! over four partial sums, to keep four multiply-adds in flight.
//!
//! Panels hold f32, or f16 when a model's config asks for it
//! ([`Precision`]): half the bytes per step, which is what a batch of one
//! on a large model waits for. The f16 kernels widen each panel row to f32
//! as they load it (`vcvtph2ps`) and do the rest in f32, so they compute
//! exactly what the f32 kernel computes on the weights rounded to f16.
//!
//! The x86-64 kernels (AVX-512, else AVX2 with FMA and F16C) are chosen at
//! run time ([`Isa`]); other CPUs take a plain loop. `tests/kernel.rs`
//! proves each one equal to candle's matmul, in both precisions.

use candle_core::{Device, Tensor};
use half::f16;
use serde::{Deserialize, Serialize};

/// Columns per panel: one 16-wide or two 8-wide registers.
pub const TILE: usize = 16;
/// Batches of at most this many rows go through the packed kernel; larger
/// ones through candle's matmul. Up to here the kernel was measured faster
/// (BENCHMARKS.md); beyond, cache blocking over the input would matter.
pub const SMALL_BATCH: usize = 64;

/// Whether a batch of `rows` on `device` steps through the rows path
/// (plain loops over rows and [`PackedWeights`]) rather than candle's
/// tensor ops. Every serving layer asks this one question, so the choice
/// is made in one place.
pub fn takes_rows(rows: usize, device: &Device) -> bool {
    rows <= SMALL_BATCH && device.is_cpu()
}

/// How a packed matrix stores its weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// As trained.
    #[default]
    F32,
    /// Rounded to the nearest f16 at load: half the bytes to read, about
    /// three significant decimal digits per weight.
    F16,
}

/// The instruction sets the kernel is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// 16-wide registers; groups of 8 batch rows.
    Avx512,
    /// 8-wide registers with fused multiply-add and f16 loads; groups of 4
    /// batch rows.
    Avx2Fma,
    /// A plain loop, one batch row at a time.
    Portable,
}

impl Isa {
    /// The instruction sets this CPU runs, best first.
    pub fn available() -> Vec<Isa> {
        let mut isas = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                isas.push(Isa::Avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("f16c")
            {
                isas.push(Isa::Avx2Fma);
            }
        }
        isas.push(Isa::Portable);
        isas
    }

    /// The best of [`Isa::available`], found once.
    pub fn best() -> Isa {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| Isa::available()[0])
    }
}

/// A weight matrix `[in, out]` in panels of [`TILE`] columns (the last one
/// zero-padded).
#[derive(Clone, Debug)]
pub struct PackedWeights {
    input: usize,
    out: usize,
    panels: Panels,
}

/// The panels' values, in the matrix's [`Precision`].
#[derive(Clone, Debug)]
enum Panels {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

impl PackedWeights {
    /// Packs `w`, `[input, out]` row-major, as f32.
    pub fn new(w: &[f32], input: usize, out: usize) -> PackedWeights {
        PackedWeights::with_precision(w, input, out, Precision::F32)
    }

    /// Packs `w`, `[input, out]` row-major, stored in `precision`.
    pub fn with_precision(
        w: &[f32],
        input: usize,
        out: usize,
        precision: Precision,
    ) -> PackedWeights {
        assert_eq!(w.len(), input * out, "w is not [{input}, {out}]");
        let tiles = out.div_ceil(TILE);
        let mut panels = vec![0.0; tiles * input * TILE];
        for (i, row) in w.chunks_exact(out.max(1)).enumerate().take(input) {
            for (t, values) in row.chunks(TILE).enumerate() {
                let at = (t * input + i) * TILE;
                panels[at..at + values.len()].copy_from_slice(values);
            }
        }
        let panels = match precision {
            Precision::F32 => Panels::F32(panels),
            Precision::F16 => Panels::F16(panels.into_iter().map(f16::from_f32).collect()),
        };
        PackedWeights { input, out, panels }
    }

    /// Packs a `[in, out]` f32 CPU tensor.
    pub fn from_tensor(w: &Tensor) -> candle_core::Result<PackedWeights> {
        PackedWeights::from_tensor_as(w, Precision::F32)
    }

    /// Packs a `[in, out]` f32 CPU tensor, stored in `precision`.
    pub fn from_tensor_as(w: &Tensor, precision: Precision) -> candle_core::Result<PackedWeights> {
        let (input, out) = w.dims2()?;
        let values = w.flatten_all()?.to_vec1::<f32>()?;
        Ok(PackedWeights::with_precision(
            &values, input, out, precision,
        ))
    }

    pub fn precision(&self) -> Precision {
        match self.panels {
            Panels::F32(_) => Precision::F32,
            Panels::F16(_) => Precision::F16,
        }
    }

    pub fn input(&self) -> usize {
        self.input
    }

    pub fn out(&self) -> usize {
        self.out
    }

    /// `x W + b` for `rows` rows of `x` laid end to end (`x.len()` is
    /// `rows * in`); `bias` has `out` values. Returns `rows * out` values,
    /// row after row. Runs on the best instruction set the CPU has.
    pub fn affine(&self, x: &[f32], rows: usize, bias: Option<&[f32]>) -> Vec<f32> {
        let mut y = vec![0.0; rows * self.out];
        self.run(Isa::best(), x, rows, bias, &mut y);
        y
    }

    /// [`PackedWeights::affine`] into `y`, which must hold `rows * out`
    /// values and is overwritten: the serving steps' form, which allocates
    /// nothing.
    pub fn affine_into(&self, x: &[f32], rows: usize, bias: Option<&[f32]>, y: &mut [f32]) {
        self.run(Isa::best(), x, rows, bias, y)
    }

    /// [`PackedWeights::affine`] on a given instruction set, which must be
    /// one of [`Isa::available`].
    pub fn affine_on(&self, isa: Isa, x: &[f32], rows: usize, bias: Option<&[f32]>) -> Vec<f32> {
        assert!(Isa::available().contains(&isa), "{isa:?} is not available");
        let mut y = vec![0.0; rows * self.out];
        self.run(isa, x, rows, bias, &mut y);
        y
    }

    /// [`PackedWeights::affine_into`] on an instruction set known to be
    /// available.
    fn run(&self, isa: Isa, x: &[f32], rows: usize, bias: Option<&[f32]>, y: &mut [f32]) {
        assert_eq!(
            x.len(),
            rows * self.input,
            "x is not {rows} rows of {}",
            self.input
        );
        assert_eq!(
            y.len(),
            rows * self.out,
            "y is not {rows} rows of {}",
            self.out
        );
        if let Some(b) = bias {
            assert_eq!(b.len(), self.out, "bias is not [{}]", self.out);
        }
        let (input, out) = (self.input, self.out);
        match (isa, &self.panels) {
            // SAFETY: the CPU has the features each kernel is compiled for.
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx512, Panels::F32(panels)) => unsafe {
                avx512::affine(&Matrix { panels, input, out }, x, rows, bias, y)
            },
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx512, Panels::F16(panels)) => unsafe {
                avx512_f16::affine(&Matrix { panels, input, out }, x, rows, bias, y)
            },
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2Fma, Panels::F32(panels)) => unsafe {
                avx2::affine(&Matrix { panels, input, out }, x, rows, bias, y)
            },
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2Fma, Panels::F16(panels)) => unsafe {
                avx2_f16::affine(&Matrix { panels, input, out }, x, rows, bias, y)
            },
            (_, Panels::F32(panels)) => {
                affine_plain(&Matrix { panels, input, out }, |w| w, x, rows, bias, y)
            }
            (_, Panels::F16(panels)) => affine_plain(
                &Matrix { panels, input, out },
                f16::to_f32,
                x,
                rows,
                bias,
                y,
            ),
        }
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
}

/// The panels of an `[input, out]` matrix, as the kernels read them.
struct Matrix<'a, E> {
    panels: &'a [E],
    input: usize,
    out: usize,
}

/// The portable form of [`PackedWeights::affine`]: one batch row at a
/// time, a panel row at a time; `widen` reads a panel value as f32.
fn affine_plain<E: Copy>(
    p: &Matrix<'_, E>,
    widen: impl Fn(E) -> f32,
    x: &[f32],
    rows: usize,
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    let (panels, input, out) = (p.panels, p.input, p.out);
    for r in 0..rows {
        let xr = &x[r * input..(r + 1) * input];
        for t in 0..out.div_ceil(TILE) {
            let panel = &panels[t * input * TILE..(t + 1) * input * TILE];
            let mut acc = [0.0f32; TILE];
            for (&v, w) in xr.iter().zip(panel.chunks_exact(TILE)) {
                if v != 0.0 {
                    for (a, &w) in acc.iter_mut().zip(w) {
                        *a += v * widen(w);
                    }
                }
            }
            store(&acc, t, r, out, bias, y);
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

/// Every group of `N` batch rows, transposed, into `out`: for each group
/// in turn, for every input, the group's `N` values side by side (zero
/// past the last row). `out` is cleared first and reused between calls.
#[cfg(target_arch = "x86_64")]
fn transpose_groups<const N: usize>(x: &[f32], input: usize, rows: usize, out: &mut Vec<[f32; N]>) {
    out.clear();
    for r0 in (0..rows).step_by(N) {
        let size = N.min(rows - r0);
        out.extend((0..input).map(|i| {
            std::array::from_fn(|g| {
                if g < size {
                    x[(r0 + g) * input + i]
                } else {
                    0.0
                }
            })
        }));
    }
}

/// Generates one SIMD kernel: `$group` batch rows share each walk over a
/// panel, whose rows are `$per_tile` registers wide. Panels are the
/// outer loop, so a panel is fetched from memory once and then served from
/// cache to every group of the batch. Panel values are `$elem`, which
/// `$load` widens to a register of f32.
#[cfg(target_arch = "x86_64")]
macro_rules! simd_kernel {
    ($name:ident, $feature:literal, $elem:ty, $group:literal, $reg:ty, $per_tile:literal,
     $zero:ident, $load:ident, $splat:ident, $fma:ident, $add:ident, $store_reg:ident) => {
        mod $name {
            #[allow(unused_imports)]
            use super::widen::*;
            use std::arch::x86_64::*;

            use super::{store, transpose_groups, Matrix, TILE};

            pub const GROUP: usize = $group;
            const WIDTH: usize = TILE / $per_tile;

            #[target_feature(enable = $feature)]
            pub(super) unsafe fn affine(
                p: &Matrix<'_, $elem>,
                x: &[f32],
                rows: usize,
                bias: Option<&[f32]>,
                y: &mut [f32],
            ) {
                if rows == 1 {
                    return row(p, x, bias, y);
                }
                // The transposed groups live in a buffer of the thread's,
                // so a step allocates nothing once the thread has seen its
                // largest batch.
                thread_local! {
                    static GROUPS: std::cell::RefCell<Vec<[f32; GROUP]>> =
                        const { std::cell::RefCell::new(Vec::new()) };
                }
                GROUPS.with_borrow_mut(|groups| {
                    transpose_groups::<GROUP>(x, p.input, rows, groups);
                    // SAFETY: the caller's CPU runs this module's features.
                    unsafe { panels(p, groups, rows, bias, y) }
                })
            }

            /// Every panel for every group, panels outer.
            #[target_feature(enable = $feature)]
            unsafe fn panels(
                p: &Matrix<'_, $elem>,
                groups: &[[f32; GROUP]],
                rows: usize,
                bias: Option<&[f32]>,
                y: &mut [f32],
            ) {
                for t in 0..p.out.div_ceil(TILE) {
                    let panel = &p.panels[t * p.input * TILE..(t + 1) * p.input * TILE];
                    for (r0, values) in (0..rows)
                        .step_by(GROUP)
                        .zip(groups.chunks_exact(p.input.max(1)))
                    {
                        let (size, out) = (GROUP.min(rows - r0), p.out);
                        match size {
                            1 => tile::<1, 4>(panel, values, t, r0, out, bias, y),
                            2 => tile::<2, 2>(panel, values, t, r0, out, bias, y),
                            3 => tile::<3, 2>(panel, values, t, r0, out, bias, y),
                            4 => tile::<4, 1>(panel, values, t, r0, out, bias, y),
                            5 => tile::<5, 1>(panel, values, t, r0, out, bias, y),
                            6 => tile::<6, 1>(panel, values, t, r0, out, bias, y),
                            7 => tile::<7, 1>(panel, values, t, r0, out, bias, y),
                            _ => tile::<GROUP, 1>(panel, values, t, r0, out, bias, y),
                        }
                    }
                }
            }

            /// A batch of one: the input row read directly (zeros skipped),
            /// four partial sums per panel so that four multiply-adds are
            /// in flight.
            #[inline(always)]
            unsafe fn row(p: &Matrix<'_, $elem>, x: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
                let input = p.input;
                for t in 0..p.out.div_ceil(TILE) {
                    let panel = &p.panels[t * input * TILE..(t + 1) * input * TILE];
                    let mut acc = [[$zero(); $per_tile]; 4];
                    let madd = |i: usize, v: f32, acc: &mut [$reg; $per_tile]| {
                        if v == 0.0 {
                            return;
                        }
                        let w = panel[i * TILE..].as_ptr();
                        let vb = $splat(v);
                        for q in 0..$per_tile {
                            // SAFETY: row i of the panel holds TILE values.
                            let wq = unsafe { $load(w.add(q * WIDTH)) };
                            acc[q] = $fma(vb, wq, acc[q]);
                        }
                    };
                    // Four inputs at a time, each into its own sums: fixed
                    // indices keep the sums in registers.
                    let chunks = x.chunks_exact(4);
                    let rest = chunks.remainder();
                    for (c, xs) in chunks.enumerate() {
                        let [a0, a1, a2, a3] = &mut acc;
                        madd(4 * c, xs[0], a0);
                        madd(4 * c + 1, xs[1], a1);
                        madd(4 * c + 2, xs[2], a2);
                        madd(4 * c + 3, xs[3], a3);
                    }
                    for (k, &v) in rest.iter().enumerate() {
                        madd(input - rest.len() + k, v, &mut acc[0]);
                    }
                    let mut values = [0.0f32; TILE];
                    for q in 0..$per_tile {
                        let sum = $add($add(acc[0][q], acc[1][q]), $add(acc[2][q], acc[3][q]));
                        // SAFETY: `values` holds TILE values.
                        unsafe { $store_reg(values.as_mut_ptr().add(q * WIDTH), sum) };
                    }
                    store(&values, t, 0, p.out, bias, y);
                }
            }

            /// One panel for rows `r0..r0 + G`, with `U` partial sums per
            /// row: a multiply-add waits for the one before it on the same
            /// register, so a group of fewer than 4 rows spreads its inputs
            /// over several registers to keep 4 or more in flight.
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            unsafe fn tile<const G: usize, const U: usize>(
                panel: &[$elem],
                values: &[[f32; GROUP]],
                t: usize,
                r0: usize,
                out: usize,
                bias: Option<&[f32]>,
                y: &mut [f32],
            ) {
                let mut acc = [[[$zero(); $per_tile]; U]; G];
                // U inputs at a time, each into its own sums: fixed indices
                // keep the sums in registers.
                let chunks = values.chunks_exact(U);
                let rest = chunks.remainder();
                for (c, vs) in chunks.enumerate() {
                    for u in 0..U {
                        madd::<G, U>(panel, c * U + u, &vs[u], &mut acc, u);
                    }
                }
                for (k, v) in rest.iter().enumerate() {
                    madd::<G, U>(panel, values.len() - rest.len() + k, v, &mut acc, 0);
                }
                for g in 0..G {
                    let mut sum = acc[g][0];
                    for u in 1..U {
                        for q in 0..$per_tile {
                            sum[q] = $add(sum[q], acc[g][u][q]);
                        }
                    }
                    let mut values = [0.0f32; TILE];
                    for q in 0..$per_tile {
                        // SAFETY: `values` holds TILE values.
                        unsafe { $store_reg(values.as_mut_ptr().add(q * WIDTH), sum[q]) };
                    }
                    store(&values, t, r0 + g, out, bias, y);
                }
            }

            /// `acc[g][u] += v[g] * w[i]` for one input.
            #[inline(always)]
            unsafe fn madd<const G: usize, const U: usize>(
                panel: &[$elem],
                i: usize,
                v: &[f32; GROUP],
                acc: &mut [[[$reg; $per_tile]; U]; G],
                u: usize,
            ) {
                if v.iter().all(|&v| v == 0.0) {
                    return;
                }
                let w = panel[i * TILE..].as_ptr();
                let mut wv = [$zero(); $per_tile];
                for (q, reg) in wv.iter_mut().enumerate() {
                    // SAFETY: row i of the panel holds TILE values.
                    *reg = unsafe { $load(w.add(q * WIDTH)) };
                }
                for g in 0..G {
                    let vb = $splat(v[g]);
                    for q in 0..$per_tile {
                        acc[g][u][q] = $fma(vb, wv[q], acc[g][u][q]);
                    }
                }
            }
        }
    };
}

/// Loads of one panel row's f16 values, widened to f32.
#[cfg(target_arch = "x86_64")]
mod widen {
    use half::f16;
    use std::arch::x86_64::*;

    /// 8 values.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn load_f16x8(p: *const f16) -> __m256 {
        // SAFETY: the caller points at 8 values; f16 is a u16.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
    }

    /// 16 values.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn load_f16x16(p: *const f16) -> __m512 {
        // SAFETY: the caller points at 16 values; f16 is a u16.
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) }
    }
}

#[cfg(target_arch = "x86_64")]
simd_kernel!(
    avx2,
    "avx2,fma",
    f32,
    4,
    __m256,
    2,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_add_ps,
    _mm256_storeu_ps
);

#[cfg(target_arch = "x86_64")]
simd_kernel!(
    avx2_f16,
    "avx2,fma,f16c",
    half::f16,
    4,
    __m256,
    2,
    _mm256_setzero_ps,
    load_f16x8,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_add_ps,
    _mm256_storeu_ps
);

// With 32 registers a group of 8 rows keeps its outputs in registers, so
// each weight load feeds 8 multiply-adds.
#[cfg(target_arch = "x86_64")]
simd_kernel!(
    avx512,
    "avx512f",
    f32,
    8,
    __m512,
    1,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps,
    _mm512_storeu_ps
);

#[cfg(target_arch = "x86_64")]
simd_kernel!(
    avx512_f16,
    "avx512f",
    half::f16,
    8,
    __m512,
    1,
    _mm512_setzero_ps,
    load_f16x16,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps,
    _mm512_storeu_ps
);
