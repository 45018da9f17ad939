//! The file a replayed herd's desktops read (`bc-reference-desktop --replay-delays FILE`): the
//! measured first-contact delays of one run's repetitions, and the kernel width that smooths them.

use serde::Serialize;

/// The `--replay-delays` file, as bc-reference-desktop reads it (fixtures/desktops/src/replay.rs;
/// the two crates do not depend on each other, so the format is written down in both).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delays {
    /// The repeated run the delays were measured in.
    pub from: String,
    /// Per measured repetition, µs from its first fault to its first CS Proxy registration at a
    /// site the fault left alone (`synth::Sample::contact_us`), in repetition order.
    pub first_contact_us: Vec<i64>,
    /// The normal kernel's standard deviation added to each draw ([`bandwidth_us`]).
    pub bandwidth_us: i64,
}

impl Delays {
    /// The file of `from`'s measured first contacts (`None`s left out).
    pub fn new(from: &str, contacts: &[i64]) -> Delays {
        Delays {
            from: from.to_string(),
            first_contact_us: contacts.to_vec(),
            bandwidth_us: bandwidth_us(contacts),
        }
    }

    /// The file's text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Silverman's rule of thumb for a normal kernel, 0.9 × min(σ, IQR / 1.34) × K^(-1/5): K measured
/// delays drawn as they are would put N / K agents at each of K instants, a crowd in any window
/// whatever the desktop did; smoothed, they stand for the distribution they were drawn from. The
/// kernel follows the samples' own spread, so equal delays (a desktop without jitter) stay equal.
pub fn bandwidth_us(samples: &[i64]) -> i64 {
    let k = samples.len();
    if k < 2 {
        return 0;
    }
    let n = k as f64;
    let mean = samples.iter().map(|s| *s as f64).sum::<f64>() / n;
    let sd = (samples
        .iter()
        .map(|s| (*s as f64 - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0))
        .sqrt();
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let iqr = (quantile(&sorted, 0.75) - quantile(&sorted, 0.25)) / 1.34;
    // With most samples equal the IQR is 0 while a straggler makes σ large: the narrower is kept
    // (the rule's own choice), which leaves such a crowd together.
    (0.9 * sd.min(iqr) * n.powf(-0.2)).round() as i64
}

/// The `q` quantile of sorted samples, linearly interpolated.
fn quantile(sorted: &[i64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let frac = pos - lo as f64;
    sorted[lo] as f64 * (1.0 - frac) + sorted[hi] as f64 * frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_what_the_reference_desktop_reads() {
        let d = Delays::new("s/x[preferred=A]", &[2_000_000, 2_000_000]);
        assert_eq!(
            d.to_json(),
            r#"{"from":"s/x[preferred=A]","first_contact_us":[2000000,2000000],"bandwidth_us":0}"#
        );
    }

    #[test]
    fn the_kernel_follows_the_spread_of_the_samples() {
        // A desktop without jitter: 10 delays within 50 ms, a kernel of a few ms.
        let lock_step: Vec<i64> = (0..10).map(|k| 2_040_000 + k * 5_000).collect();
        let narrow = bandwidth_us(&lock_step);
        assert!((5_000..15_000).contains(&narrow), "{narrow}");
        // Delays uniform over 2 s: a kernel of about a third of a second.
        let spread: Vec<i64> = (0..10).map(|k| 2_000_000 + k * 222_000).collect();
        let wide = bandwidth_us(&spread);
        assert!((300_000..400_000).contains(&wide), "{wide}");
        // One straggler does not widen a crowd's kernel; one sample has none.
        let mut crowd = vec![2_050_000; 9];
        crowd.push(9_000_000);
        assert_eq!(bandwidth_us(&crowd), 0);
        assert_eq!(bandwidth_us(&[2_000_000]), 0);
    }
}
