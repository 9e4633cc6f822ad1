//! `y = x W + b` for inputs that are mostly zeros, as featurizers make
//! them (one-hots and a few scalars): each row sums only the weight rows
//! its non-zero inputs pick, so a 1,000-wide input reads a few dozen rows
//! of `W`.
//!
//! The packed kernel skips an input only when it is zero in every row of a
//! group, which different games' one-hots rarely are; this reads `W` as
//! stored (row-major `[in, out]`). The loop is plain Rust compiled for
//! AVX-512 and for AVX2 and chosen at run time like the kernel's
//! ([`crate::kernel::Isa`]): built for the baseline x86-64, it ran on
//! 4-wide SSE2 and took a fifth of a UMI bot's time. Multiplies and adds
//! stay separate (no fused multiply-add), so every instruction set gives
//! the same bits. `tests/kernel.rs` proves it equal to candle's matmul.
//!
//! A serving step hands over each row's non-zero inputs as (index, value)
//! pairs ([`sparse_row_into`]), as its featurizer emits them, so it never
//! builds or scans the mostly-zero vector; the sums are the same, in the
//! same order, as [`sparse_affine`]'s over the dense row.

use crate::kernel::Isa;

/// `x W + b` for `rows` rows of `x` laid end to end; `w` is `[input, out]`
/// row-major with `input = x.len() / rows`, `bias` has `out` values.
/// Returns `rows * out` values, row after row.
pub fn sparse_affine(x: &[f32], rows: usize, w: &[f32], out: usize, bias: &[f32]) -> Vec<f32> {
    assert!(
        rows > 0 && x.len().is_multiple_of(rows),
        "x is not {rows} rows"
    );
    let input = x.len() / rows;
    assert_eq!(w.len(), input * out, "w is not [{input}, {out}]");
    assert_eq!(bias.len(), out, "bias is not {out} values");
    let mut y = Vec::with_capacity(rows * out);
    match Isa::best() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::best` found the CPU features each loop is built for.
        Isa::Avx512 => unsafe { rows_avx512(x, input, w, out, bias, &mut y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2Fma => unsafe { rows_avx2(x, input, w, out, bias, &mut y) },
        _ => each_row(x, input, w, out, bias, &mut y),
    }
    y
}

/// `y = b + sum of v W[j]` over one row's non-zero inputs `(j, v)`, given
/// in increasing `j`; `w` is `[input, out]` row-major with every `j`
/// below `input`, and `bias` and `y` hold `out` values (`y` is
/// overwritten). Allocates nothing.
pub fn sparse_row_into(
    nonzeros: &[(u32, f32)],
    w: &[f32],
    out: usize,
    bias: &[f32],
    y: &mut [f32],
) {
    assert_eq!(bias.len(), out, "bias is not {out} values");
    assert_eq!(y.len(), out, "y is not {out} values");
    assert!(
        w.len().is_multiple_of(out.max(1)),
        "w is not rows of {out} values"
    );
    match Isa::best() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::best` found the CPU features each loop is built for.
        Isa::Avx512 => unsafe { pairs_avx512(nonzeros, w, out, bias, y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2Fma => unsafe { pairs_avx2(nonzeros, w, out, bias, y) },
        _ => pairs(nonzeros, w, out, bias, y),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pairs_avx512(
    nonzeros: &[(u32, f32)],
    w: &[f32],
    out: usize,
    bias: &[f32],
    y: &mut [f32],
) {
    pairs(nonzeros, w, out, bias, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pairs_avx2(nonzeros: &[(u32, f32)], w: &[f32], out: usize, bias: &[f32], y: &mut [f32]) {
    pairs(nonzeros, w, out, bias, y)
}

#[inline(always)]
fn pairs(nonzeros: &[(u32, f32)], w: &[f32], out: usize, bias: &[f32], y: &mut [f32]) {
    y.copy_from_slice(bias);
    for &(j, v) in nonzeros {
        let j = j as usize;
        add_row(y, &w[j * out..(j + 1) * out], v);
    }
}

/// `acc += v * weights`, as a plain add when `v` is 1 (a one-hot).
#[inline(always)]
fn add_row(acc: &mut [f32], weights: &[f32], v: f32) {
    if v == 1.0 {
        for (a, w) in acc.iter_mut().zip(weights) {
            *a += w;
        }
    } else {
        for (a, w) in acc.iter_mut().zip(weights) {
            *a += v * w;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn rows_avx512(
    x: &[f32],
    input: usize,
    w: &[f32],
    out: usize,
    bias: &[f32],
    y: &mut Vec<f32>,
) {
    each_row(x, input, w, out, bias, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn rows_avx2(
    x: &[f32],
    input: usize,
    w: &[f32],
    out: usize,
    bias: &[f32],
    y: &mut Vec<f32>,
) {
    each_row(x, input, w, out, bias, y)
}

#[inline(always)]
fn each_row(x: &[f32], input: usize, w: &[f32], out: usize, bias: &[f32], y: &mut Vec<f32>) {
    for row in x.chunks_exact(input) {
        let at = y.len();
        y.extend_from_slice(bias);
        let acc = &mut y[at..];
        for (j, &v) in row.iter().enumerate() {
            if v != 0.0 {
                add_row(acc, &w[j * out..(j + 1) * out], v);
            }
        }
    }
}
