//! The corpus' seeded generator and the distributions its families draw from.
//!
//! SplitMix64 (Steele, Lea & Flood 2014): the same generator the library's detectors use for pair
//! sampling, kept here so that a corpus case is a pure function of its seed without reaching
//! into the library's internals. The distributions are the textbook transforms: Box–Muller for
//! the normal, a normal over the square root of a scaled chi-square (a sum of squared normals)
//! for Student's t, inversion for the Pareto and the exponential, Knuth's product method for
//! small Poisson means and a rounded normal approximation above 30.

/// SplitMix64: a tiny, fast, well-mixed 64-bit generator.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator with the given seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform float in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// A standard normal variate (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // in (0, 1], so the logarithm is finite
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Student's t with `dof` (≥ 1, rounded) degrees of freedom, scaled to unit variance when
    /// `dof > 2` so that its scale reads like a standard deviation; heavier tails than the
    /// normal (kurtosis 6/(dof−4) + 3 for dof > 4).
    pub fn student_t(&mut self, dof: u32) -> f64 {
        let dof = dof.max(1);
        let chi2: f64 = (0..dof).map(|_| self.normal().powi(2)).sum();
        let t = self.normal() / (chi2 / f64::from(dof)).sqrt().max(1e-12);
        if dof > 2 {
            t * ((f64::from(dof) - 2.0) / f64::from(dof)).sqrt()
        } else {
            t
        }
    }

    /// A Pareto variate with scale `x_min` and tail index `alpha`: P(X > x) = (x_min / x)^alpha.
    pub fn pareto(&mut self, x_min: f64, alpha: f64) -> f64 {
        let u = 1.0 - self.unit(); // in (0, 1]
        x_min / u.powf(1.0 / alpha)
    }

    /// A log-normal variate whose logarithm has mean `mu` and standard deviation `sigma`.
    pub fn log_normal(&mut self, mu: f64, sigma: f64) -> f64 {
        (mu + sigma * self.normal()).exp()
    }

    /// An exponential variate with mean `mean`.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// A Poisson count with mean `lambda` (Knuth's method up to 30, a rounded normal above).
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda.is_nan() || lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u64;
        }
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = self.unit();
        while p > limit {
            k += 1;
            p *= self.unit();
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_output_and_determinism() {
        // First output of SplitMix64 with seed 0, from the reference implementation.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn moments_are_the_distributions() {
        let mut r = SplitMix64::new(11);
        let n = 200_000;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let t: Vec<f64> = (0..n).map(|_| r.student_t(5)).collect();
        let var = mean(&t.iter().map(|x| x * x).collect::<Vec<_>>());
        assert!((var - 1.0).abs() < 0.05, "t variance {var}");
        let p: Vec<f64> = (0..n).map(|_| r.pareto(1.0, 3.0)).collect();
        // Mean of a Pareto(1, 3) is 3/2.
        assert!((mean(&p) - 1.5).abs() < 0.03, "pareto mean {}", mean(&p));
        let k: Vec<f64> = (0..n).map(|_| r.poisson(4.0) as f64).collect();
        assert!((mean(&k) - 4.0).abs() < 0.03, "poisson mean {}", mean(&k));
        let e: Vec<f64> = (0..n).map(|_| r.exponential(2.0)).collect();
        assert!(
            (mean(&e) - 2.0).abs() < 0.03,
            "exponential mean {}",
            mean(&e)
        );
    }
}
