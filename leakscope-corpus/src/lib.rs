//! The labelled corpus that judges leakscope's detectors.
//!
//! [`scenarios`] is the short corpus the library started with (series of at most four hours,
//! i.i.d. Gaussian noise, judged at a lowered growth gate); the detector tests use it.
#![deny(missing_docs)]

pub mod rng;
pub mod scenarios;

/// The median of `values` (`None` when empty).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}
