//! How often and how patiently a delivery is retried.

use std::time::Duration;

/// Retries with exponential backoff: attempt `n` (from 1) that fails waits
/// `base_delay * 2^(n-1)`, at most `max_delay`, before attempt `n + 1`; after
/// `attempts` failures the delivery gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// Wait after the first failure.
    pub base_delay: Duration,
    /// Longest wait between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts over about 15 seconds: 1 s, 2 s, 4 s, 8 s apart.
    fn default() -> Self {
        Self {
            attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based), or `None` when it
    /// was the last.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.attempts {
            return None;
        }
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        Some(
            self.base_delay
                .checked_mul(factor)
                .unwrap_or(self.max_delay)
                .min(self.max_delay),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_doubles_up_to_the_cap_then_stops() {
        let policy = RetryPolicy {
            attempts: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        let delays: Vec<_> = (1..=6).map(|attempt| policy.delay_after(attempt)).collect();
        let ms = |ms| Some(Duration::from_millis(ms));
        assert_eq!(delays, [ms(100), ms(200), ms(400), ms(800), ms(1000), None]);
        let one = RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        };
        assert_eq!(one.delay_after(1), None);
        let many = RetryPolicy {
            attempts: 100,
            ..RetryPolicy::default()
        };
        assert_eq!(many.delay_after(90), Some(many.max_delay));
    }
}
