//! How unusual a count is in the foreground window, given the baseline.
//!
//! The score is Dunning's log-likelihood ratio, the G statistic of the 2x2
//! table (events with the word, template or value, and events without it,
//! in each window). It was chosen over Elasticsearch's JLH score because
//! its scale means something: under the hypothesis that both windows draw
//! from the same rate, G follows a chi-squared law with one degree of
//! freedom, so G = 10.83 is p = 0.001 whatever the window sizes, and it
//! stays finite and meaningful for a count that was zero in the baseline
//! (new), where JLH's ratio of shares explodes for a single occurrence.
//! G grows with both the size of the change and the evidence for it, so a
//! word seen twice is never as strong as one seen forty times.
//!
//! The score is one-sided: a count that fell in the foreground scores 0,
//! since a postmortem asks what appeared, not what went quiet.

/// The G statistic of `foreground` events out of `foreground_total` against
/// `baseline` out of `baseline_total`; 0 when the foreground share is not
/// above the baseline share, or when either window is empty.
pub fn log_likelihood_ratio(
    foreground: u64,
    foreground_total: u64,
    baseline: u64,
    baseline_total: u64,
) -> f64 {
    if foreground_total == 0 || baseline_total == 0 {
        return 0.0;
    }
    // Counts past the totals cannot come from one index; clamp rather than
    // produce a NaN.
    let foreground = foreground.min(foreground_total) as f64;
    let baseline = baseline.min(baseline_total) as f64;
    let (foreground_total, baseline_total) = (foreground_total as f64, baseline_total as f64);
    if foreground / foreground_total <= baseline / baseline_total {
        return 0.0;
    }
    let x_ln_x = |x: f64| if x > 0.0 { x * x.ln() } else { 0.0 };
    let (a, b) = (foreground, foreground_total - foreground);
    let (c, d) = (baseline, baseline_total - baseline);
    let cells = x_ln_x(a) + x_ln_x(b) + x_ln_x(c) + x_ln_x(d);
    let rows = x_ln_x(a + b) + x_ln_x(c + d);
    let columns = x_ln_x(a + c) + x_ln_x(b + d);
    let all = x_ln_x(a + b + c + d);
    (2.0 * (cells - rows - columns + all)).max(0.0)
}

/// Foreground rate over baseline rate (events per minute), each count
/// plus one (add-one smoothing), so that something new has a finite ratio
/// that still grows with how often it appeared, and a single stray event
/// against nothing is not called a surge. Windows of no length give 1.
pub fn rate_ratio(
    foreground: u64,
    foreground_minutes: f64,
    baseline: u64,
    baseline_minutes: f64,
) -> f64 {
    if foreground_minutes <= 0.0 || baseline_minutes <= 0.0 {
        return 1.0;
    }
    ((foreground as f64 + 1.0) / foreground_minutes) / ((baseline as f64 + 1.0) / baseline_minutes)
}

/// The fewest events in one bucket of the foreground that make a surge,
/// given the most the baseline had in any bucket of the same width: more
/// than that, and at least two. Comparing with the busiest baseline bucket
/// rather than the mean copes with bursty background (a job that logs ten
/// lines at once every hour); asking for two keeps a single stray line of
/// something rare from being taken for the start of its burst.
pub fn surge_threshold(busiest_baseline_bucket: u64) -> u64 {
    busiest_baseline_bucket.saturating_add(1).max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(left: f64, right: f64) -> bool {
        (left - right).abs() < 1e-9 * right.abs().max(1.0)
    }

    /// G by its definition, 2 * sum of O * ln(O / E) over the four cells:
    /// the naive twin of the entropy form used above.
    fn g_by_definition(a: f64, b: f64, c: f64, d: f64) -> f64 {
        let total = a + b + c + d;
        let cells = [
            (a, (a + b) * (a + c) / total),
            (b, (a + b) * (b + d) / total),
            (c, (c + d) * (a + c) / total),
            (d, (c + d) * (b + d) / total),
        ];
        2.0 * cells
            .iter()
            .filter(|(observed, _)| *observed > 0.0)
            .map(|(observed, expected)| observed * (observed / expected).ln())
            .sum::<f64>()
    }

    #[test]
    fn g_matches_its_definition_and_closed_forms() {
        // One event against none, and ten against none: 4 ln 2 and 40 ln 2.
        assert!(close(log_likelihood_ratio(1, 1, 0, 1), 4.0 * 2f64.ln()));
        assert!(close(log_likelihood_ratio(10, 10, 0, 10), 40.0 * 2f64.ln()));
        for (a, n, c, m) in [
            (5, 2000, 0, 100_000),
            (1000, 2995, 1000, 101_000),
            (3, 1041, 1, 1936),
            (232, 1041, 2, 1936),
        ] {
            let expected = g_by_definition(a as f64, (n - a) as f64, c as f64, (m - c) as f64);
            let got = log_likelihood_ratio(a, n, c, m);
            assert!(
                close(got, expected),
                "{a}/{n} vs {c}/{m}: {got} != {expected}"
            );
        }
    }

    #[test]
    fn g_is_one_sided_and_zero_without_evidence() {
        assert_eq!(log_likelihood_ratio(0, 100, 50, 100), 0.0);
        assert_eq!(log_likelihood_ratio(10, 100, 10, 100), 0.0);
        assert_eq!(log_likelihood_ratio(10, 100, 0, 0), 0.0);
        assert_eq!(log_likelihood_ratio(0, 0, 3, 100), 0.0);
        // More of the same evidence scores higher; one stray event is weak.
        let once = log_likelihood_ratio(1, 1000, 0, 5000);
        let forty = log_likelihood_ratio(40, 1000, 0, 5000);
        assert!(once < 3.84, "{once}");
        assert!(forty > 10.83 && forty > 10.0 * once, "{forty}");
        assert!(log_likelihood_ratio(200, 100, 0, 100).is_finite());
    }

    #[test]
    fn smoothed_ratios_are_finite_and_grow_with_the_count() {
        assert!(close(rate_ratio(3, 15.0, 0, 120.0), 32.0));
        assert!(close(rate_ratio(0, 15.0, 7, 120.0), 1.0));
        assert!(rate_ratio(30, 15.0, 0, 120.0) > rate_ratio(3, 15.0, 0, 120.0));
        assert_eq!(rate_ratio(3, 15.0, 0, 0.0), 1.0);
    }

    #[test]
    fn a_surge_beats_the_busiest_baseline_bucket_with_at_least_two() {
        assert_eq!(surge_threshold(0), 2);
        assert_eq!(surge_threshold(1), 2);
        assert_eq!(surge_threshold(9), 10);
        assert_eq!(surge_threshold(u64::MAX), u64::MAX);
    }
}
