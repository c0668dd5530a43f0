//! The robust statistics every detector shares.
//!
//! Sources: Theil–Sen slope (Theil 1950, Sen 1968: the median of pairwise slopes), the
//! Mann–Kendall trend test (Mann 1945, Kendall 1975; variance with the tie correction of
//! Kendall's *Rank Correlation Methods*, Z with a continuity correction, as used in hydrological
//! trend monitoring), the median absolute deviation scaled by 1.4826 to estimate σ under normal
//! noise (Hampel 1974; the robust spread behind Twitter's S-H-ESD), sample percentiles by linear
//! interpolation between order statistics (Hyndman & Fan definition 7, numpy's default),
//! lag-k sample autocorrelation (Box & Jenkins), and Page's one-sided CUSUM (Page 1954).
//!
//! Every function takes plain `f64` slices, returns `None` when the statistic is undefined for
//! the input (too few points, zero variance), and never panics. Inputs are finite: the series
//! they come from are validated by the caller.

/// The median; `None` for an empty slice. Reorders `values`.
pub(crate) fn median_in_place(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    let (lower, upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return Some(upper);
    }
    // After selection every element left of `mid` is <= the element at `mid`, so the lower
    // middle value is the largest of them.
    let lower = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(lower / 2.0 + upper / 2.0)
}

/// The median of `values` (copied first).
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    median_in_place(&mut values.to_vec())
}

/// The median absolute deviation from the median.
pub(crate) fn mad(values: &[f64]) -> Option<f64> {
    let m = median(values)?;
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    median_in_place(&mut deviations)
}

/// 1.4826 × MAD: a spread that equals σ for normal noise but ignores up to half the points being
/// outliers, so spikes and steps do not inflate it.
pub(crate) fn robust_sigma(values: &[f64]) -> Option<f64> {
    mad(values).map(|m| 1.4826 * m)
}

/// The `p`-th percentile (0–100) by linear interpolation between the closest order statistics
/// (Hyndman & Fan type 7). Reorders `values`; `None` when empty.
pub(crate) fn percentile_in_place(values: &mut [f64], p: f64) -> Option<f64> {
    let n = values.len();
    if n == 0 || !p.is_finite() {
        return None;
    }
    let h = (n - 1) as f64 * (p.clamp(0.0, 100.0) / 100.0);
    let lo = (h.floor() as usize).min(n - 1);
    let frac = h - lo as f64;
    // Selection instead of a full sort: the detectors take percentiles of a whole window of raw
    // snapshots on every run.
    let (_, at_lo, upper) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let at_lo = *at_lo;
    if frac == 0.0 || upper.is_empty() {
        return Some(at_lo);
    }
    let next = upper.iter().copied().fold(f64::INFINITY, f64::min);
    Some(at_lo + frac * (next - at_lo))
}

/// The arithmetic mean; `None` when empty.
pub(crate) fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

/// The sample standard deviation (n − 1 in the denominator); `None` below two values.
pub(crate) fn sample_sd(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values)?;
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    Some((ss / (values.len() - 1) as f64).sqrt())
}

/// Sample standard deviation over mean; `None` when undefined or the mean is not positive.
pub(crate) fn coefficient_of_variation(values: &[f64]) -> Option<f64> {
    let m = mean(values)?;
    if m <= 0.0 {
        return None;
    }
    Some(sample_sd(values)? / m)
}

/// A straight line `y = intercept + slope · x`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LinearFit {
    /// Change of y per unit of x.
    pub slope: f64,
    /// y at x = 0.
    pub intercept: f64,
}

impl LinearFit {
    /// The fitted value at `x`.
    pub(crate) fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// Above this many points Theil–Sen uses a deterministic sample of pairs instead of all of them.
pub(crate) const THEIL_SEN_MAX_POINTS: usize = 120;
/// How many pairs the sample holds: as many as 120 points have, so the estimate's precision does
/// not drop at the switch.
const THEIL_SEN_SAMPLE_PAIRS: usize = THEIL_SEN_MAX_POINTS * (THEIL_SEN_MAX_POINTS - 1) / 2;

/// Theil–Sen line through `(x, y)`: the median of the slopes of all pairs with distinct x, and
/// the median of `y − slope·x` as intercept. Beyond [`THEIL_SEN_MAX_POINTS`] points it uses a
/// fixed sample of pairs drawn by SplitMix64 seeded with the point count, so the same series
/// always gives the same line. `None` when no pair has distinct x.
pub(crate) fn theil_sen(x: &[f64], y: &[f64]) -> Option<LinearFit> {
    let n = x.len().min(y.len());
    let mut slopes = Vec::new();
    let push = |i: usize, j: usize, slopes: &mut Vec<f64>| {
        let dx = x[j] - x[i];
        if dx != 0.0 {
            slopes.push((y[j] - y[i]) / dx);
        }
    };
    if n <= THEIL_SEN_MAX_POINTS {
        slopes.reserve(n * n.saturating_sub(1) / 2);
        for i in 0..n {
            for j in i + 1..n {
                push(i, j, &mut slopes);
            }
        }
    } else {
        slopes.reserve(THEIL_SEN_SAMPLE_PAIRS);
        let mut rng = SplitMix64::new(n as u64);
        for _ in 0..THEIL_SEN_SAMPLE_PAIRS {
            let i = rng.below(n as u64) as usize;
            // j is drawn among the other n − 1 indices so no pair is degenerate.
            let mut j = rng.below(n as u64 - 1) as usize;
            if j >= i {
                j += 1;
            }
            push(i.min(j), i.max(j), &mut slopes);
        }
    }
    let slope = median_in_place(&mut slopes)?;
    let mut residuals: Vec<f64> = (0..n).map(|i| y[i] - slope * x[i]).collect();
    let intercept = median_in_place(&mut residuals)?;
    Some(LinearFit { slope, intercept })
}

/// The result of the Mann–Kendall trend test on a series in time order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct MannKendall {
    /// S: concordant minus discordant pairs.
    pub s: f64,
    /// Var(S) under no trend, with the tie correction.
    pub var_s: f64,
    /// The standard normal score with continuity correction; > 3.09 is one-sided p < 0.001.
    pub z: f64,
    /// Kendall's τ-a: S over the number of pairs, in [−1, 1].
    pub tau: f64,
}

/// Mann–Kendall S, Var(S) = [n(n−1)(2n+5) − Σ t(t−1)(2t+5)] / 18 over groups of t tied values,
/// Z = (S ∓ 1)/√Var(S) (0 when S = 0) and τ = S / (n(n−1)/2). `None` below two points.
pub(crate) fn mann_kendall(y: &[f64]) -> Option<MannKendall> {
    let n = y.len();
    if n < 2 {
        return None;
    }
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            s += match y[j].total_cmp(&y[i]) {
                std::cmp::Ordering::Greater => 1,
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
            };
        }
    }
    let nf = n as f64;
    let mut sorted = y.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut run = 1.0f64;
    for w in sorted.windows(2) {
        if w[0] == w[1] {
            run += 1.0;
        } else {
            ties += run * (run - 1.0) * (2.0 * run + 5.0);
            run = 1.0;
        }
    }
    ties += run * (run - 1.0) * (2.0 * run + 5.0);
    let var_s = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    let s = s as f64;
    let z = if var_s <= 0.0 || s == 0.0 {
        0.0
    } else if s > 0.0 {
        (s - 1.0) / var_s.sqrt()
    } else {
        (s + 1.0) / var_s.sqrt()
    };
    let tau = s / (nf * (nf - 1.0) / 2.0);
    Some(MannKendall { s, var_s, z, tau })
}

/// The lag-`lag` sample autocorrelation Σ(yᵢ−ȳ)(yᵢ₊ₖ−ȳ) / Σ(yᵢ−ȳ)². `None` when the lag leaves
/// no pair or the series is constant.
pub(crate) fn autocorrelation(y: &[f64], lag: usize) -> Option<f64> {
    if lag == 0 || lag >= y.len() {
        return None;
    }
    let m = mean(y)?;
    let denom: f64 = y.iter().map(|v| (v - m) * (v - m)).sum();
    if denom <= 0.0 {
        return None;
    }
    let num: f64 = y
        .iter()
        .zip(&y[lag..])
        .map(|(a, b)| (a - m) * (b - m))
        .sum();
    Some(num / denom)
}

/// The best one-change-point step model of a series: two constant levels split where the sum of
/// squared residuals is smallest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Step {
    /// Index of the first point of the second level.
    pub split: usize,
    /// Second level minus first level (means).
    pub height: f64,
    /// Sum of squared residuals around the two levels.
    pub sse: f64,
    /// The larger move within either level: |median of its last three − median of its first
    /// three| (a staircase has further steps inside a level; a settled step has none).
    pub max_segment_drift: f64,
}

/// Points each level of a [`Step`] needs.
const STEP_MIN_SEGMENT: usize = 4;

/// The best [`Step`] of `y` (each level at least four points), by prefix sums in O(n); `None`
/// below eight points.
pub(crate) fn best_step(y: &[f64]) -> Option<Step> {
    let n = y.len();
    if n < 2 * STEP_MIN_SEGMENT {
        return None;
    }
    let sums = PrefixSums::new(y);
    let (split, best) = (STEP_MIN_SEGMENT..=n - STEP_MIN_SEGMENT)
        .map(|j| (j, sums.sse(0, j) + sums.sse(j, n)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(Step {
        split,
        height: sums.mean(split, n) - sums.mean(0, split),
        sse: best,
        max_segment_drift: drift(&y[..split])?.max(drift(&y[split..])?),
    })
}

/// Prefix sums of a series and of its squares: the mean and the squared residuals around the
/// mean of any run in O(1), for the step models.
struct PrefixSums {
    sum: Vec<f64>,
    sq: Vec<f64>,
}

impl PrefixSums {
    fn new(y: &[f64]) -> PrefixSums {
        let mut sum = vec![0.0; y.len() + 1];
        let mut sq = vec![0.0; y.len() + 1];
        for (i, v) in y.iter().enumerate() {
            sum[i + 1] = sum[i] + v;
            sq[i + 1] = sq[i] + v * v;
        }
        PrefixSums { sum, sq }
    }

    /// The mean of `y[a..b]` (`a < b`).
    fn mean(&self, a: usize, b: usize) -> f64 {
        (self.sum[b] - self.sum[a]) / (b - a) as f64
    }

    /// The squared residuals of `y[a..b]` around its mean (`a < b`).
    fn sse(&self, a: usize, b: usize) -> f64 {
        let s = self.sum[b] - self.sum[a];
        (self.sq[b] - self.sq[a] - s * s / (b - a) as f64).max(0.0)
    }
}

/// How far a level moves within itself: |median of its last three − median of its first three|
/// (fewer when shorter); `None` when empty.
fn drift(seg: &[f64]) -> Option<f64> {
    let k = 3.min(seg.len());
    Some((median(&seg[seg.len() - k..])? - median(&seg[..k])?).abs())
}

/// The median of the (up to) three values around `y[i]`: a level at a point of a bucketed
/// series that one odd bucket does not move.
pub(crate) fn level_near(y: &[f64], i: usize) -> Option<f64> {
    median(&y[i.saturating_sub(1)..(i + 2).min(y.len())])
}

/// The lowest and the highest [`level_near`] of `y` (infinities when empty): how far its level
/// went, one odd bucket aside.
pub(crate) fn level_range(y: &[f64]) -> (f64, f64) {
    (0..y.len())
        .filter_map(|i| level_near(y, i))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), l| {
            (lo.min(l), hi.max(l))
        })
}

/// The levels ([`level_near`]) at the start of `y`, after its first and its second third, and at
/// its end: the marks [`least_rise`] reads. `None` when `y` is empty.
pub(crate) fn third_marks(y: &[f64]) -> Option<[f64; 4]> {
    let n = y.len();
    let third = n / 3;
    Some([
        level_near(y, 0)?,
        level_near(y, third)?,
        level_near(y, n.checked_sub(1 + third)?)?,
        level_near(y, n - 1)?,
    ])
}

/// The smallest rise between consecutive `marks` (levels at a window's start, its thirds and its
/// end): what the least of its parts added. A rise spread over the window adds in each part; a
/// step or a held request adds in one.
pub(crate) fn least_rise(marks: &[f64]) -> f64 {
    marks
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min)
}

/// A three-level model of a series: two change points, each level the mean of its points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Stairs {
    /// The three levels, oldest first.
    pub levels: [f64; 3],
    /// The index of the first point of the second and of the third level.
    pub splits: [usize; 2],
    /// Sum of squared residuals around the levels.
    pub sse: f64,
    /// The largest move within a level, as [`Step::max_segment_drift`].
    pub max_drift: f64,
}

/// The best [`Stairs`] of `y`, each level at least `min_segment` points (at least 3), by prefix
/// sums in O(n²); `None` when `y` is too short.
pub(crate) fn best_stairs(y: &[f64], min_segment: usize) -> Option<Stairs> {
    let m = min_segment.max(3);
    let n = y.len();
    if n < 3 * m {
        return None;
    }
    let sums = PrefixSums::new(y);
    let mut best: Option<(usize, usize, f64)> = None;
    for i in m..=n - 2 * m {
        for j in i + m..=n - m {
            let e = sums.sse(0, i) + sums.sse(i, j) + sums.sse(j, n);
            if best.is_none_or(|b| e < b.2) {
                best = Some((i, j, e));
            }
        }
    }
    let (i, j, e) = best?;
    Some(Stairs {
        levels: [sums.mean(0, i), sums.mean(i, j), sums.mean(j, n)],
        splits: [i, j],
        sse: e,
        max_drift: drift(&y[..i])?.max(drift(&y[i..j])?).max(drift(&y[j..])?),
    })
}

/// Page's one-sided upper CUSUM over standardised values: C₀ = 0, Cᵢ = max(0, Cᵢ₋₁ + zᵢ − k).
/// Returns the final value, and where its current run began: the number of leading `z` up to
/// the last one after which the statistic was zero (0 when it never was), so the run is
/// `z[since..]`. A value ≥ h means the mean has shifted up by about k + h/run-length standard
/// deviations and has stayed there up to the last point.
pub(crate) fn cusum_run(z: &[f64], k: f64) -> (f64, usize) {
    let mut c = 0.0f64;
    let mut since = 0;
    for (i, zi) in z.iter().enumerate() {
        c = (c + zi - k).max(0.0);
        if c == 0.0 {
            since = i + 1;
        }
    }
    (c, since)
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast, well-mixed generator. The detectors use
/// it for deterministic pair sampling (the corpus, leakscope-corpus/src/rng.rs, has its own).
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator with the given seed.
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..bound` (0 when `bound` is 0), by Lemire's multiply-shift; the
    /// bias is below 2⁻³² for the bounds used here.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        ((self.next_u64() as u128 * bound as u128) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn median_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[7.0]), Some(7.0));
    }

    #[test]
    fn mad_and_sigma_ignore_one_outlier() {
        // median 3; |deviations| = 2,1,0,1,97 → median 1.
        let v = [1.0, 2.0, 3.0, 4.0, 100.0];
        assert_eq!(mad(&v), Some(1.0));
        assert_eq!(robust_sigma(&v), Some(1.4826));
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        let v = [10.0, 20.0, 30.0, 40.0, 50.0];
        // h = 4 · 0.2 = 0.8 → 10 + 0.8·10 = 18.
        assert!(close(
            percentile_in_place(&mut v.clone(), 20.0).unwrap(),
            18.0
        ));
        assert_eq!(percentile_in_place(&mut v.clone(), 50.0), Some(30.0));
        assert_eq!(percentile_in_place(&mut v.clone(), 100.0), Some(50.0));
        assert_eq!(percentile_in_place(&mut v.clone(), 0.0), Some(10.0));
        assert_eq!(percentile_in_place(&mut [], 20.0), None);
    }

    #[test]
    fn mean_sd_cv() {
        let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&v), Some(5.0));
        // Σ(v−5)² = 32; 32/7.
        assert!(close(sample_sd(&v).unwrap(), (32.0f64 / 7.0).sqrt()));
        assert!(close(
            coefficient_of_variation(&v).unwrap(),
            (32.0f64 / 7.0).sqrt() / 5.0
        ));
        assert_eq!(sample_sd(&[1.0]), None);
        assert_eq!(coefficient_of_variation(&[0.0, 0.0]), None);
    }

    #[test]
    fn theil_sen_hand_computed() {
        // Pairwise slopes: 2, 0.5, 4/3, −1, 1, 3 → sorted −1, 0.5, 1, 4/3, 2, 3 → median 7/6.
        let x = [0.0, 1.0, 2.0, 3.0];
        let y = [1.0, 3.0, 2.0, 5.0];
        let fit = theil_sen(&x, &y).unwrap();
        assert!(close(fit.slope, 7.0 / 6.0));
        // Residuals y − 7/6·x: 1, 11/6, −1/3, 3/2 → median (1 + 3/2)/2 = 5/4.
        assert!(close(fit.intercept, 1.25));
        assert!(close(fit.at(2.0), 1.25 + 7.0 / 3.0));
    }

    #[test]
    fn theil_sen_ignores_an_outlier_and_vertical_pairs() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0, 4.0];
        let y = [0.0, 2.0, 4.0, 600.0, 8.0, 8.0];
        let fit = theil_sen(&x, &y).unwrap();
        assert!(close(fit.slope, 2.0));
        assert_eq!(theil_sen(&[1.0, 1.0], &[0.0, 5.0]), None);
        assert_eq!(theil_sen(&[], &[]), None);
    }

    #[test]
    fn theil_sen_subsamples_large_series_exactly_on_a_line() {
        let x: Vec<f64> = (0..1000).map(|i| i as f64 * 30.0).collect();
        let y: Vec<f64> = x.iter().map(|x| 5e6 + 1234.5 * x).collect();
        let fit = theil_sen(&x, &y).unwrap();
        assert!(close(fit.slope, 1234.5));
        assert!(close(fit.intercept, 5e6));
        // Deterministic: the same series gives bit-identical results.
        assert_eq!(theil_sen(&x, &y), Some(fit));
    }

    #[test]
    fn mann_kendall_hand_computed() {
        // Strictly increasing n = 5: S = 10, Var = 5·4·15/18 = 50/3, Z = 9/√(50/3), τ = 1.
        let mk = mann_kendall(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(mk.s, 10.0);
        assert!(close(mk.var_s, 50.0 / 3.0));
        assert!(close(mk.z, 9.0 / (50.0f64 / 3.0).sqrt()));
        assert_eq!(mk.tau, 1.0);

        // [3, 1, 2, 5, 4]: signs of (j>i) pairs: 1−3 −, 2−3 −, 5−3 +, 4−3 +, 2−1 +, 5−1 +,
        // 4−1 +, 5−2 +, 4−2 +, 4−5 − → S = 7 − 3 = 4; Z = 3/√(50/3); τ = 0.4.
        let mk = mann_kendall(&[3.0, 1.0, 2.0, 5.0, 4.0]).unwrap();
        assert_eq!(mk.s, 4.0);
        assert!(close(mk.z, 3.0 / (50.0f64 / 3.0).sqrt()));
        assert!(close(mk.tau, 0.4));

        // Decreasing: the continuity correction moves Z toward zero from below.
        let mk = mann_kendall(&[5.0, 4.0, 3.0, 2.0, 1.0]).unwrap();
        assert_eq!(mk.s, -10.0);
        assert!(close(mk.z, -9.0 / (50.0f64 / 3.0).sqrt()));
    }

    #[test]
    fn mann_kendall_tie_correction() {
        // [1, 1, 2, 3]: S = 0 + 1 + 1 + 1 + 1 + 1 = 5; ties: one group of 2 → 2·1·9 = 18;
        // Var = (4·3·13 − 18)/18 = 138/18; Z = 4/√(138/18).
        let mk = mann_kendall(&[1.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(mk.s, 5.0);
        assert!(close(mk.var_s, 138.0 / 18.0));
        assert!(close(mk.z, 4.0 / (138.0f64 / 18.0).sqrt()));
        // All equal: no variance, no trend.
        let mk = mann_kendall(&[2.0, 2.0, 2.0]).unwrap();
        assert_eq!((mk.s, mk.var_s, mk.z), (0.0, 0.0, 0.0));
        assert_eq!(mann_kendall(&[1.0]), None);
    }

    #[test]
    fn autocorrelation_hand_computed() {
        // y = 1, 0, 1, 0: mean ½, deviations ±½, Σd² = 1.
        // Lag 1: three products of −¼ → −¾. Lag 2: two products of ¼ → ½.
        let y = [1.0, 0.0, 1.0, 0.0];
        assert!(close(autocorrelation(&y, 1).unwrap(), -0.75));
        assert!(close(autocorrelation(&y, 2).unwrap(), 0.5));
        assert_eq!(autocorrelation(&y, 4), None);
        assert_eq!(autocorrelation(&y, 0), None);
        assert_eq!(autocorrelation(&[3.0, 3.0, 3.0], 1), None);
    }

    #[test]
    fn cusum_hand_computed() {
        // k = 0.5: 0 → max(0, 1−.5)=.5 → .5+3−.5=3 → 3−2−.5=.5 → max(0, .5−1−.5)=0 → 4−.5=3.5.
        // The run begins after the fourth value, where the statistic was last zero.
        assert_eq!(cusum_run(&[1.0, 3.0, -2.0, -1.0, 4.0], 0.5), (3.5, 4));
        assert_eq!(cusum_run(&[], 0.5), (0.0, 0));
        assert_eq!(cusum_run(&[1.0, 2.0], 0.5), (2.0, 0));
        assert_eq!(cusum_run(&[1.0, -3.0], 0.5), (0.0, 2));
    }

    #[test]
    fn splitmix_is_reproducible_and_in_range() {
        // First output of SplitMix64 with seed 0, from the reference implementation.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        for _ in 0..100 {
            let (x, y) = (a.below(10), b.below(10));
            assert_eq!(x, y);
            assert!(x < 10);
        }
        assert_eq!(a.below(0), 0);
    }

    #[test]
    fn stairs_find_two_change_points() {
        // 0 ×5, 60 ×5, 120 ×5 with ±1 noise.
        let y: Vec<f64> = (0..15)
            .map(|i| (i / 5) as f64 * 60.0 + if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let s = best_stairs(&y, 3).unwrap();
        assert_eq!(s.splits, [5, 10]);
        assert!((s.levels[1] - s.levels[0] - 60.0).abs() < 1.0, "{s:?}");
        assert!((s.levels[2] - s.levels[1] - 60.0).abs() < 1.0, "{s:?}");
        assert!(s.max_drift <= 2.0, "{s:?}");
        assert!(best_stairs(&y[..8], 3).is_none());
    }
}
