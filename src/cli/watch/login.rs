//! Pacing logins after the server refused one, so a wrong password never gets the
//! watcher's address banned.
//!
//! Guacamole's `guacamole-auth-ban` extension (1.6.0,
//! `extensions/guacamole-auth-ban/.../BanningAuthenticationListener.java`) bans an
//! address after `ban-max-invalid-attempts` failures (default 5) for
//! `ban-address-duration` seconds (default 300). Its count
//! (`status/AuthenticationFailureStatus.java`) is not a sliding window: every
//! failure adds one and restarts the clock, and the count is forgotten only once
//! a request arrives more than the duration after the last failure; a success does
//! not reset it. So five failures each less than five minutes after the one before
//! ban the address, however slowly they came. A refused request during a ban
//! (429, "Too many failed authentication attempts.") is not counted.
//!
//! The guard therefore keeps that count as the server does and never makes the
//! attempt that could reach the limit: after `limit - 1` failures in a chain the
//! next login waits until the chain has expired (the duration and a tenth more,
//! for clocks and queues). Refusals in a row back off quickly at first (a password
//! being rotated), then, from the `limit - 1`th on, slowly: one attempt per expiry.

use std::time::{Duration, Instant};

/// The server's ban settings (its `guacamole.properties`).
#[derive(Debug, Clone, Copy)]
pub struct BanPolicy {
    /// `ban-max-invalid-attempts`; 0 turns banning off on the server.
    pub max_attempts: u32,
    /// `ban-address-duration`.
    pub duration: Duration,
}

/// Logins refused by the server, as its ban extension counts them.
#[derive(Debug)]
pub struct LoginGuard {
    policy: BanPolicy,
    /// Refusals each less than `duration` after the one before (the server's
    /// count for this address, as far as this process made it).
    chain: u32,
    last_refusal: Option<Instant>,
    /// Refused logins in a row (a successful login resets it).
    in_a_row: u32,
    /// A ban in force (a 429): no login before this.
    not_before: Option<Instant>,
}

impl LoginGuard {
    pub fn new(policy: BanPolicy) -> Self {
        Self {
            policy,
            chain: 0,
            last_refusal: None,
            in_a_row: 0,
            not_before: None,
        }
    }

    /// Failures a chain may hold without the next one banning the address.
    fn allowed(&self) -> u32 {
        self.policy.max_attempts.saturating_sub(1)
    }

    /// How long the server remembers a chain, with a tenth more for margin.
    pub fn slow(&self) -> Duration {
        self.policy.duration + self.policy.duration / 10
    }

    /// The server refused `requests` login requests, answered at `now`.
    pub fn refused(&mut self, requests: u32, now: Instant) {
        if self
            .last_refusal
            .is_some_and(|t| now.saturating_duration_since(t) > self.policy.duration)
        {
            self.chain = 0;
        }
        self.chain = self.chain.saturating_add(requests);
        self.last_refusal = Some(now);
        self.in_a_row = self.in_a_row.saturating_add(requests);
    }

    /// The server refused a login because the address is banned (429): nothing
    /// is counted, and no login is tried until a ban would be over.
    pub fn banned(&mut self, now: Instant) {
        self.in_a_row = self.in_a_row.saturating_add(1);
        self.not_before = Some(now + self.slow());
    }

    /// A login succeeded. The server's count stays (a success does not reset
    /// it); the backoff starts over.
    pub fn succeeded(&mut self) {
        self.in_a_row = 0;
        self.not_before = None;
    }

    /// Refused logins in a row.
    pub fn in_a_row(&self) -> u32 {
        self.in_a_row
    }

    /// Whether the next login waits the slow period (the backoff is spent).
    pub fn slowed(&self) -> bool {
        self.policy.max_attempts > 0 && self.in_a_row >= self.allowed()
    }

    /// How long from `now` until a login may be tried.
    pub fn wait(&self, now: Instant) -> Duration {
        let mut until = now;
        if let Some(t) = self.not_before {
            until = until.max(t);
        }
        if self.policy.max_attempts == 0 {
            return until.saturating_duration_since(now);
        }
        if let Some(last) = self.last_refusal {
            // Never the failure that would reach the server's limit.
            if self.chain >= self.allowed() {
                until = until.max(last + self.slow());
            }
            if self.in_a_row > 0 {
                let step = if self.slowed() {
                    self.slow()
                } else {
                    // 1/20, 1/10, 1/5 of the duration...: 15 s, 30 s, 60 s by default.
                    let doublings = (self.in_a_row - 1).min(16);
                    (self.policy.duration / 20 * 2u32.pow(doublings)).min(self.slow())
                };
                until = until.max(last + step);
            }
        }
        until.saturating_duration_since(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: BanPolicy = BanPolicy {
        max_attempts: 5,
        duration: Duration::from_secs(300),
    };

    /// The server's own rule (`AuthenticationFailureStatus#isBlocked`), to check
    /// the guard against: true when one of `attempts` (each refused) would have
    /// met a ban.
    fn server_bans(attempts: &[Duration], policy: BanPolicy) -> bool {
        let mut count = 0;
        let mut last: Option<Duration> = None;
        for t in attempts {
            if let Some(l) = last
                && t.saturating_sub(l) > policy.duration
            {
                count = 0;
            }
            if count >= policy.max_attempts {
                return true;
            }
            count += 1;
            last = Some(*t);
        }
        false
    }

    /// Logins a guard allows over `hours`, every one refused.
    fn refused_for(policy: BanPolicy, hours: u64) -> Vec<Duration> {
        let t0 = Instant::now();
        let mut guard = LoginGuard::new(policy);
        let mut now = t0;
        let mut attempts = Vec::new();
        while now.duration_since(t0) < Duration::from_secs(hours * 3600) {
            now += guard.wait(now);
            attempts.push(now.duration_since(t0));
            // The answer takes a moment.
            now += Duration::from_millis(50);
            guard.refused(1, now);
        }
        attempts
    }

    #[test]
    fn a_wrong_password_never_gets_the_address_banned() {
        for policy in [
            DEFAULT,
            BanPolicy {
                max_attempts: 3,
                duration: Duration::from_secs(900),
            },
            BanPolicy {
                max_attempts: 1,
                duration: Duration::from_secs(60),
            },
        ] {
            let attempts = refused_for(policy, 3);
            assert!(!server_bans(&attempts, policy), "{policy:?}: {attempts:?}");
            // At most limit - 1 in any period of the ban duration.
            let allowed = usize::try_from(policy.max_attempts.max(2) - 1).expect("small");
            for (i, t) in attempts.iter().enumerate() {
                let within = attempts[i..]
                    .iter()
                    .take_while(|u| u.saturating_sub(*t) <= policy.duration)
                    .count();
                assert!(within <= allowed, "{policy:?}: {within} from {t:?}");
            }
        }
        // The default: three quick retries, then one every 5 min 30 s.
        let attempts = refused_for(DEFAULT, 1);
        let gaps: Vec<u64> = attempts
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]).as_secs())
            .take(6)
            .collect();
        assert_eq!(gaps, [15, 30, 60, 330, 330, 330]);
    }

    #[test]
    fn a_success_keeps_the_servers_count() {
        let t0 = Instant::now();
        let mut guard = LoginGuard::new(DEFAULT);
        for i in 0..4 {
            guard.refused(1, t0 + Duration::from_secs(i));
        }
        guard.succeeded();
        // The server still counts four: a fifth failure now would ban.
        let wait = guard.wait(t0 + Duration::from_secs(10));
        assert_eq!(wait, Duration::from_secs(323));
        // Once the chain has expired, logins are free again.
        assert_eq!(guard.wait(t0 + Duration::from_secs(400)), Duration::ZERO);
    }

    #[test]
    fn a_ban_in_force_is_waited_out_and_banning_off_adds_no_wait() {
        let t0 = Instant::now();
        let mut guard = LoginGuard::new(DEFAULT);
        guard.banned(t0);
        assert_eq!(guard.wait(t0), Duration::from_secs(330));
        let mut off = LoginGuard::new(BanPolicy {
            max_attempts: 0,
            duration: Duration::from_secs(300),
        });
        off.refused(1, t0);
        assert_eq!(off.wait(t0), Duration::ZERO);
    }
}
