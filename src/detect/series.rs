//! Series preparation: validation of time stamps, the recent cadence, and bucketed series.
//!
//! The floor series (docs/detectors.md, "The floor") keeps the minimum of the snapshots in each
//! bucket: a cache's eviction sawtooth and short-lived working sets vanish from it, and growth of
//! the floor is what leaks look like. The peak series keeps the maximum instead, which is where
//! spikes live. Buckets are aligned to end at the newest snapshot, so the newest bucket always
//! spans a full width and a half-filled bucket never stands for a whole one.

use crate::error::{Error, ErrorKind};

/// Checks that every time stamp is finite and later than the one before; the error names the
/// first offending index.
pub(crate) fn validate_times(times: impl Iterator<Item = f64>, what: &str) -> Result<(), Error> {
    let mut prev: Option<f64> = None;
    for (i, t) in times.enumerate() {
        if !t.is_finite() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{what}[{i}].t is {t}: time stamps must be finite"),
            ));
        }
        if let Some(p) = prev {
            if t <= p {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{what}[{i}].t = {t} is not after {what}[{}].t = {p}: time stamps must \
                         increase",
                        i - 1
                    ),
                ));
            }
        }
        prev = Some(t);
    }
    Ok(())
}

/// How many of the most recent intervals estimate the cadence: enough to ignore a few gaps,
/// few enough that a long history costs nothing, and recent so that coarser history tiers
/// (older, sparser snapshots) do not distort it.
const CADENCE_INTERVALS: usize = 64;

/// The median of the most recent snapshot intervals, in seconds; `None` below two snapshots.
pub(crate) fn cadence(times: &[f64]) -> Option<f64> {
    if times.len() < 2 {
        return None;
    }
    let start = times.len().saturating_sub(CADENCE_INTERVALS + 1);
    let diffs: Vec<f64> = times[start..].windows(2).map(|w| w[1] - w[0]).collect();
    super::stats::median(&diffs)
}

/// Which snapshot of a bucket represents it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pick {
    /// The one with the fewest bytes (the floor).
    Min,
    /// The one with the most bytes (the peak).
    Max,
}

/// Groups the items with `from < t ≤ to` into buckets of `width` seconds ending at `to` and
/// returns the index of each bucket's representative, oldest bucket first. Empty buckets are
/// skipped, so a gap in the history costs nothing and a tiny width cannot allocate millions of
/// buckets. `times` must be increasing and as long as `values`.
pub(crate) fn bucket_picks(
    times: &[f64],
    values: &[f64],
    from: f64,
    to: f64,
    width: f64,
    pick: Pick,
) -> Vec<usize> {
    let start = times.partition_point(|&t| t <= from);
    let end = times.partition_point(|&t| t <= to);
    if start >= end {
        return Vec::new();
    }
    if !(width.is_finite() && width > 0.0) {
        // A degenerate width puts every snapshot in its own bucket.
        return (start..end).collect();
    }
    // At most one pick per bucket the span holds, and per snapshot.
    let buckets = ((to - from) / width).ceil() + 1.0;
    let mut out = Vec::with_capacity((end - start).min(buckets.min(usize::MAX as f64) as usize));
    // Bucket k (counted back from `to`) holds (to − (k+1)·width, to − k·width]. Items come in time
    // order, so k never increases along the scan and each bucket is one contiguous run: one
    // comparison per item against the current bucket's upper edge, one division per bucket.
    let key = |t: f64| ((to - t) / width).floor().max(0.0);
    let mut upper = to - key(times[start]) * width;
    let mut best = start;
    for (i, &t) in times.iter().enumerate().take(end).skip(start + 1) {
        if t > upper {
            out.push(best);
            upper = to - key(t) * width;
            best = i;
            continue;
        }
        let better = match pick {
            Pick::Min => values[i] < values[best],
            Pick::Max => values[i] > values[best],
        };
        if better {
            best = i;
        }
    }
    out.push(best);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_index() {
        assert!(validate_times([0.0, 1.0, 2.5].into_iter(), "series").is_ok());
        assert!(validate_times(std::iter::empty(), "series").is_ok());
        let err = validate_times([0.0, 2.0, 1.0].into_iter(), "series").unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidInput);
        assert!(err.message().contains("series[2].t"), "{}", err.message());
        let err = validate_times([0.0, f64::NAN].into_iter(), "series").unwrap_err();
        assert!(
            err.message().contains("series[1].t is NaN"),
            "{}",
            err.message()
        );
        let err = validate_times([1.0, 1.0].into_iter(), "series").unwrap_err();
        assert!(err.message().contains("series[1].t"), "{}", err.message());
    }

    #[test]
    fn cadence_is_the_median_interval() {
        assert_eq!(cadence(&[0.0, 30.0, 60.0, 200.0, 230.0]), Some(30.0));
        assert_eq!(cadence(&[5.0]), None);
    }

    #[test]
    fn buckets_end_at_the_newest_snapshot() {
        // Snapshots every 10 s from 0 to 100, buckets of 30 s ending at 100:
        // (70,100] = 80,90,100; (40,70] = 50,60,70; (10,40] = 20,30,40; (−20,10] = 0,10.
        let times: Vec<f64> = (0..=10).map(|i| i as f64 * 10.0).collect();
        let bytes = [5.0, 3.0, 9.0, 1.0, 8.0, 7.0, 2.0, 6.0, 4.0, 0.5, 3.0];
        let mins = bucket_picks(&times, &bytes, -1.0, 100.0, 30.0, Pick::Min);
        assert_eq!(mins, vec![1, 3, 6, 9]);
        let maxs = bucket_picks(&times, &bytes, -1.0, 100.0, 30.0, Pick::Max);
        assert_eq!(maxs, vec![0, 2, 5, 8]);
        // `from` is exclusive: only 50..=100 take part.
        let mins = bucket_picks(&times, &bytes, 40.0, 100.0, 30.0, Pick::Min);
        assert_eq!(mins, vec![6, 9]);
        assert!(bucket_picks(&times, &bytes, 100.0, 100.0, 30.0, Pick::Min).is_empty());
        // A zero width keeps every snapshot.
        let all = bucket_picks(&times, &bytes, 60.0, 100.0, 0.0, Pick::Min);
        assert_eq!(all, vec![7, 8, 9, 10]);
    }
}
