//! Sigmoid and tanh over slices, for the small-batch path's recurrent
//! cells and feed-forward blocks.
//!
//! The C library's `expf`/`tanhf` are called one value at a time: in a
//! batch-16 step of a 2xLSTM128 they were almost half the time. These are
//! written without calls or branches (a clamped argument, a Cody-Waite
//! range reduction and a degree-6 polynomial for `exp`, as in Cephes'
//! `expf`), so the compiler turns each loop into vector code; the loops are
//! compiled for AVX-512 and for AVX2+FMA and chosen at run time. Those two
//! evaluate the polynomial with fused multiply-adds (half the
//! instructions); the portable loop, which may run where there is no FMA
//! instruction, multiplies and adds.
//!
//! Accuracy (`tests/activation.rs`, against f64): sigmoid within 3e-7
//! relative wherever the result is a normal f32, tanh within 3e-7
//! absolute, over the whole f32 range.

/// `v = 1 / (1 + e^-v)` for every value.
pub fn sigmoid(values: &mut [f32]) {
    dispatch(values, Function::Sigmoid)
}

/// `v = tanh(v)` for every value.
pub fn tanh(values: &mut [f32]) {
    dispatch(values, Function::Tanh)
}

#[derive(Clone, Copy)]
enum Function {
    Sigmoid,
    Tanh,
}

fn dispatch(values: &mut [f32], f: Function) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features the loop is compiled for.
            return unsafe { apply_avx512(values, f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: as above.
            return unsafe { apply_avx2(values, f) };
        }
    }
    apply::<false>(values, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn apply_avx512(values: &mut [f32], f: Function) {
    apply::<true>(values, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn apply_avx2(values: &mut [f32], f: Function) {
    apply::<true>(values, f)
}

/// The loop; `FMA` says whether the CPU fuses multiply-adds.
#[inline(always)]
fn apply<const FMA: bool>(values: &mut [f32], f: Function) {
    match f {
        Function::Sigmoid => {
            for v in values.iter_mut() {
                *v = 1.0 / (1.0 + exp::<FMA>(-*v));
            }
        }
        Function::Tanh => {
            for v in values.iter_mut() {
                // tanh(|x|) = 1 - 2 / (e^2|x| + 1), odd by construction;
                // |x| > 9 is ±1 in f32.
                let x = v.abs().min(9.0);
                *v = (1.0 - 2.0 / (exp::<FMA>(2.0 * x) + 1.0)).copysign(*v);
            }
        }
    }
}

/// `a * b + c`, fused where `FMA` says the CPU can.
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `e^x` without a call or a branch: `x = n ln 2 + r` with `|r| <= ln 2 / 2`,
/// `e^r` from Cephes' polynomial, `2^n` built in the exponent bits.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' coefficients, as published
fn exp<const FMA: bool>(x: f32) -> f32 {
    // Beyond these e^x is not a normal f32; clamping keeps 2^n in range.
    let x = x.clamp(-87.3, 88.7);
    let n = madd::<FMA>(x, std::f32::consts::LOG2_E, 0.5).floor();
    // ln 2 split in two so that n * LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let r = madd::<FMA>(-n, LN2_LO, madd::<FMA>(-n, LN2_HI, x));
    let p = 1.987_569_1e-4;
    let p = madd::<FMA>(p, r, 1.398_199_9e-3);
    let p = madd::<FMA>(p, r, 8.333_452e-3);
    let p = madd::<FMA>(p, r, 4.166_579_6e-2);
    let p = madd::<FMA>(p, r, 1.666_666_5e-1);
    let p = madd::<FMA>(p, r, 5.000_000_1e-1);
    let e_r = madd::<FMA>(p, r * r, r + 1.0);
    // n is within [-126, 128]; 2^128 only arises with r < 0, so scale in two halves.
    let half = (n * 0.5).floor();
    e_r * pow2(half) * pow2(n - half)
}

/// `2^k` for a whole `k` in -126..=127, built in the exponent bits without
/// a float-to-int conversion (which LLVM turns into scalar code inside
/// these loops): adding 1.5 * 2^23 puts `k + 127` in the low mantissa
/// bits, and the shift moves them into the exponent.
#[inline(always)]
fn pow2(k: f32) -> f32 {
    const SHIFTER: f32 = 12_582_912.0 + 127.0; // 1.5 * 2^23, plus the bias
    f32::from_bits((k + SHIFTER).to_bits() << 23)
}
