//! `ln`, `exp` and `exp_m1` of `f64` in Rust, so that the library calls no function of the C
//! math library and a program that installs the allocator does not load `libm.so` for it.
//!
//! `f64::ln`, `f64::exp` and `f64::exp_m1` are calls into the platform's libm, and those three
//! were the library's only ones (the sampler's interval draw and inclusion probability, the
//! detectors' exponential fit). With glibc 2.36, loading libm made about 0.3 MiB of its pages
//! resident at start-up, before any call (/proc/self/smaps), and about 0.5 MiB once `log` had
//! been called, against a 24 MiB heap in the benchmark's `cache`
//! workload (benches/README.md, "Run E"): more than the 2% that docs/design.md §12 leaves for
//! all of leakscope's memory there. Rust's `std` itself needs no libm, so a program that calls
//! none of these functions itself no longer loads it.
//!
//! The algorithms are the classic ones (as in fdlibm): an argument reduction by `ln 2` split
//! into a high part whose multiples by the exponent are exact and a low part, then a series on
//! the reduced argument. The tests compare every function with `std`'s on hundreds of
//! thousands of arguments, edge cases and special values included: each result is within one
//! unit in the last place of glibc's (itself within 0.52 of the exact result), and most are
//! the same. The coefficients are written
//! as the fractions they are (`1/n!`, `2/(2n+1)`), which the compiler rounds once each.

/// `ln 2` in two parts: `LN2_HI` keeps the top 32 bits of the significand (21 trailing zero
/// bits), so `k * LN2_HI` is exact for every exponent `k` of an `f64`; `LN2_HI + LN2_LO` is
/// `ln 2` to within 1.2e-26.
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);

/// Above this `exp(x)` overflows to infinity (`ln(f64::MAX)`, rounded down).
const EXP_OVERFLOW: f64 = 709.782_712_893_384;
/// Below this `exp(x)` is below half the smallest subnormal and rounds to 0.
const EXP_UNDERFLOW: f64 = -745.133_219_101_941_2;

/// `1/n!` for n = 2..=17: `e^r = 1 + r + r^2/2! + ...`; on `|r| <= ln(2)/2` the first term left
/// out, `r^18/18!`, is below 1e-24 of the result.
const INV_FACTORIALS: [f64; 16] = [
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
    1.0 / 87_178_291_200.0,
    1.0 / 1_307_674_368_000.0,
    1.0 / 20_922_789_888_000.0,
    1.0 / 355_687_428_096_000.0,
];

/// `2/(2n+1)` for n = 1..=12: `ln((1+s)/(1-s)) = 2s + s * (2s^2/3 + 2s^4/5 + ...)`; on
/// `|s| <= 0.1716` (a significand reduced to `[sqrt(2)/2, sqrt(2))`) the first term left out is
/// below 1e-19 of the result.
const ATANH_TERMS: [f64; 12] = [
    2.0 / 3.0,
    2.0 / 5.0,
    2.0 / 7.0,
    2.0 / 9.0,
    2.0 / 11.0,
    2.0 / 13.0,
    2.0 / 15.0,
    2.0 / 17.0,
    2.0 / 19.0,
    2.0 / 21.0,
    2.0 / 23.0,
    2.0 / 25.0,
];

/// `c[0] + z * (c[1] + z * (...))`.
fn horner(z: f64, c: &[f64]) -> f64 {
    c.iter().rev().fold(0.0, |acc, &c| c + z * acc)
}

/// `2^k` for `k` in `-1022..=1023`.
fn pow2(k: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&k));
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// `y * 2^k` for `k` in `-1074..=1024`, `y` in `[0.5, 2]`: in two steps where `2^k` itself is
/// not a normal `f64`.
fn scale(y: f64, k: i32) -> f64 {
    if k > 1023 {
        y * 2.0 * pow2(k - 1)
    } else if k < -1022 {
        y * pow2(k + 1000) * pow2(-1000)
    } else {
        y * pow2(k)
    }
}

/// `x = k ln 2 + r` with `|r| <= ln(2)/2` (a little more, from rounding), for finite `|x|`
/// below about 746: `(k, hi, lo)` with `r = hi - lo`, `hi = x - k * LN2_HI` (exact) and
/// `lo = k * LN2_LO`.
fn reduce(x: f64) -> (i32, f64, f64) {
    // Rounds to nearest without `f64::round`, which is a libm call on targets without SSE4.1.
    let half = if x < 0.0 { -0.5 } else { 0.5 };
    let k = (x * std::f64::consts::LOG2_E + half) as i32;
    let kf = f64::from(k);
    (k, x - kf * LN2_HI, kf * LN2_LO)
}

/// `a + b` as the rounded sum and its rounding error, exactly (Knuth's two-sum).
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let b_part = s - a;
    (s, (a - (s - b_part)) + (b - b_part))
}

/// The natural logarithm: what `x.ln()` returns (within one unit in the last place).
pub(crate) fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x == f64::INFINITY {
        return x;
    }
    let (mut bits, mut k) = (x.to_bits(), 0i32);
    if bits >> 52 == 0 {
        // Subnormal: scaled into the normal range, exactly.
        bits = (x * pow2(54)).to_bits();
        k = -54;
    }
    k += ((bits >> 52) as i32) - 1023;
    let significand = bits & ((1 << 52) - 1);
    // The significand in [sqrt(2)/2, sqrt(2)): above sqrt(2)'s own significand (0x6a09e667f3bcd)
    // it is halved and the exponent goes up by one.
    let (m, k) = if significand > 0x6_A09E_667F_3BCD {
        (f64::from_bits(significand | (1022 << 52)), k + 1)
    } else {
        (f64::from_bits(significand | (1023 << 52)), k)
    };
    // ln(m) = ln(1 + f) = 2 atanh(s), s = f / (2 + f); f is exact (m is within a factor of two
    // of 1). Written as f - (f^2/2 - s (f^2/2 + R)), R = s^2 (2/3 + 2s^2/5 + ...): with
    // 2s = f - s f that is 2s + s R, and the large parts (f, f^2/2) are added last.
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * horner(z, &ATANH_TERMS);
    let hfsq = 0.5 * f * f;
    let kf = f64::from(k);
    kf * LN2_HI + (f - (hfsq - (s * (hfsq + r) + kf * LN2_LO)))
}

/// `e^x`: what `x.exp()` returns (within one unit in the last place).
pub(crate) fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > EXP_OVERFLOW {
        return f64::INFINITY;
    }
    if x < EXP_UNDERFLOW {
        return 0.0;
    }
    let (k, hi, lo) = reduce(x);
    // e^r = 1 + hi - lo + (r^2/2! + r^3/3! + ...): 1 + hi with its rounding error kept, so
    // that the one rounding that matters is the last addition's.
    let r = hi - lo;
    let (head, tail) = two_sum(1.0, hi);
    let y = head + (tail + (r * r * horner(r, &INV_FACTORIALS) - lo));
    scale(y, k)
}

/// `e^x - 1`, accurate near 0: what `x.exp_m1()` returns (within one unit in the last place).
pub(crate) fn exp_m1(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > EXP_OVERFLOW {
        return f64::INFINITY;
    }
    // e^x below 2^-57: e^x - 1 rounds to -1.
    if x < -40.0 {
        return -1.0;
    }
    if x == 0.0 {
        // -0.0 stays -0.0.
        return x;
    }
    if x.abs() <= 0.5 * std::f64::consts::LN_2 {
        // The Taylor series: x + x^2/2! + x^3/3! + ...
        return x + x * x * horner(x, &INV_FACTORIALS);
    }
    let (k, hi, lo) = reduce(x);
    if k > 56 {
        // The -1 is below half a unit in the last place of e^x.
        return exp(x) - 1.0;
    }
    // e^x - 1 = (2^k - 1) + 2^k hi + 2^k (r^2/2! + ... - lo), where 2^k - 1 is exact for
    // k <= 53 and 2^k hi is exact: their sum with its rounding error kept, so that the one
    // rounding that matters is the last addition's (their sum cancels for negative k).
    let p = pow2(k);
    let r = hi - lo;
    let (head, tail) = two_sum(p - 1.0, p * hi);
    head + (tail + p * (r * r * horner(r, &INV_FACTORIALS) - lo))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The most units in the last place a result may be from `std`'s: glibc's `exp`, `log` and
    /// `expm1` are within 0.52 of the correctly rounded result, so ours within 1 of theirs
    /// means ours within about 1.5 of the exact one; other platforms' libms are allowed 2.
    const MAX_ULPS: u64 = if cfg!(all(target_os = "linux", target_env = "gnu")) {
        1
    } else {
        2
    };

    /// How many units in the last place `a` is from `b` (both finite, of one sign).
    fn ulps(a: f64, b: f64) -> u64 {
        if a == b {
            return 0;
        }
        assert_eq!(
            a.is_sign_negative(),
            b.is_sign_negative(),
            "{a} against {b}"
        );
        a.to_bits().abs_diff(b.to_bits())
    }

    /// Fixed-seed arguments: xorshift64* scaled into `[lo, hi)`.
    fn args(seed: u64, n: usize, lo: f64, hi: f64) -> impl Iterator<Item = f64> {
        let mut x = seed | 1;
        (0..n).map(move |_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let u = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            lo + u * (hi - lo)
        })
    }

    /// Checks `ours` against `std`'s on [`special`] arguments and on `more`: every result within
    /// [`MAX_ULPS`] (and equal where std's is not finite or zero). Also that fewer than one in
    /// ten differ at all: not a bound the code promises, a check that the results are mostly
    /// libm's own (here, against glibc 2.36: 4.1% of `ln`'s arguments differ by one unit, 1.3%
    /// of `exp`'s, 4.4% of `exp_m1`'s).
    fn check(ours: fn(f64) -> f64, std: fn(f64) -> f64, more: impl IntoIterator<Item = f64>) {
        let xs: Vec<f64> = special().into_iter().chain(more).collect();
        let mut differ = 0;
        for &x in &xs {
            let (a, b) = (ours(x), std(x));
            if b.is_nan() {
                assert!(a.is_nan(), "f({x:e}) = {a:e}, std {b:e}");
            } else if !b.is_finite() || b == 0.0 {
                assert_eq!(a, b, "f({x:e})");
            } else {
                let d = ulps(a, b);
                assert!(d <= MAX_ULPS, "f({x:e}) = {a:e}, std {b:e}: {d} ulps");
                differ += usize::from(d > 0);
            }
        }
        assert!(differ * 10 < xs.len(), "{differ} of {} differ", xs.len());
    }

    fn special() -> Vec<f64> {
        let mut v = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            2.0,
            0.5,
            std::f64::consts::LN_2,
            -std::f64::consts::LN_2,
            0.5 * std::f64::consts::LN_2,
            -0.5 * std::f64::consts::LN_2,
            std::f64::consts::SQRT_2,
            std::f64::consts::FRAC_1_SQRT_2,
            f64::MIN_POSITIVE,
            f64::MIN_POSITIVE / 3.0,
            f64::from_bits(1),
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            1e-300,
            1e-20,
            -1e-20,
            40.0,
            -40.0,
            -37.0,
            39.0,
            EXP_OVERFLOW,
            EXP_OVERFLOW + 1e-12,
            EXP_UNDERFLOW,
            EXP_UNDERFLOW - 1e-12,
            -708.0,
            -709.5,
            -720.0,
            -744.0,
            709.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        // Every power of two, and its neighbours.
        for e in -1074..=1023 {
            let p = 2f64.powi(e);
            v.extend([
                p,
                f64::from_bits(p.to_bits() + 1),
                f64::from_bits(p.to_bits() - 1),
            ]);
        }
        v
    }

    #[test]
    fn ln_is_within_one_ulp_of_std() {
        // Arbitrary positive bit patterns: every exponent.
        let bits = args(5, 100_000, 0.0, 1.0)
            .map(|u| f64::from_bits((u * 0x7FF0_0000_0000_0000u64 as f64) as u64));
        let subnormal = args(4, 50_000, -1.0, 1.0).map(|x| x * 1e-310);
        let ranges = args(1, 200_000, 0.0, 1.0)
            .chain(args(2, 100_000, 0.5, 2.0))
            .chain(args(3, 100_000, 1.0, 1e12));
        check(ln, f64::ln, ranges.chain(subnormal).chain(bits));
    }

    #[test]
    fn exp_is_within_one_ulp_of_std() {
        let ranges = args(6, 200_000, -1.0, 1.0)
            .chain(args(7, 200_000, -746.0, 710.0))
            .chain(args(8, 50_000, -1e-8, 1e-8));
        check(exp, f64::exp, ranges);
    }

    #[test]
    fn exp_m1_is_within_one_ulp_of_std() {
        // The sampler's arguments: -size / interval.
        let sampler = args(13, 100_000, 0.0, 1.0).map(|u| -(u * 1e5).floor() / 524_288.0);
        let ranges = args(9, 200_000, -1.0, 1.0)
            .chain(args(10, 200_000, -50.0, 50.0))
            .chain(args(11, 100_000, -746.0, 710.0))
            .chain(args(12, 100_000, -1e-6, 1e-6));
        check(exp_m1, f64::exp_m1, ranges.chain(sampler));
    }
}
