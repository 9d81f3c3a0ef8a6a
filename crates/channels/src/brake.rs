//! The brake on a fan-out: how many posts may be in flight, and how fast new
//! ones may start.
//!
//! - **In flight: AIMD.** Every post that succeeds raises the limit by
//!   `1/limit` (so by one per window of `limit` posts: additive increase);
//!   a 429 halves it (multiplicative decrease), at most once per window: a
//!   throttle answer to a post that started before the last decrease does
//!   not count again, so a burst of 429s from one window halves the limit
//!   once, as TCP does. Every worker runs its own brake; because API
//!   Gateway throttles the whole account, they all see the 429s and all
//!   slow down.
//! - **Rate: a token bucket** (GCRA) at a target rate, when one is set: the
//!   share of the account's request budget this worker may use.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// What a post carries from [`Brake::start`] to [`Brake::throttled`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(u64);

/// A post in flight: holds one place under the limit until dropped.
#[derive(Debug)]
pub struct Permit<'a> {
    brake: &'a Brake,
    ticket: Ticket,
}

impl Permit<'_> {
    pub fn ticket(&self) -> Ticket {
        self.ticket
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        lock(&self.brake.state).in_flight -= 1;
        self.brake.freed.notify_one();
    }
}

/// The brake; shared by reference between the posts of one fan-out (or of
/// every fan-out of a worker).
#[derive(Debug)]
pub struct Brake {
    state: Mutex<State>,
    /// Wakes a post waiting for a place.
    freed: Notify,
    min: f64,
    max: f64,
    /// Seconds between two posts at the target rate, and the burst allowed.
    pace: Option<(Duration, Duration)>,
}

#[derive(Debug)]
struct State {
    limit: f64,
    in_flight: usize,
    epoch: u64,
    throttles: u64,
    /// GCRA's theoretical arrival time of the next post.
    next_start: Option<Instant>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Every update is a few plain assignments: nothing half-done to see.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Brake {
    /// `initial` posts in flight, never fewer than `min` (at least 1) nor
    /// more than `max`; no rate limit.
    pub fn new(initial: usize, min: usize, max: usize) -> Self {
        let min = min.max(1) as f64;
        let max = (max as f64).max(min);
        Self {
            state: Mutex::new(State {
                limit: (initial as f64).clamp(min, max),
                in_flight: 0,
                epoch: 0,
                throttles: 0,
                next_start: None,
            }),
            freed: Notify::new(),
            min,
            max,
            pace: None,
        }
    }

    /// A fixed limit of `limit` in flight: AIMD off (the synchronous
    /// publish, whose invocation is too short for the brake to matter).
    pub fn fixed(limit: usize) -> Self {
        Self::new(limit, limit, limit)
    }

    /// At most `per_second` posts a second (bursts of up to `burst`).
    pub fn with_rate(mut self, per_second: f64, burst: u32) -> Self {
        if per_second.is_finite() && per_second > 0.0 {
            let interval = Duration::from_secs_f64(1.0 / per_second);
            self.pace = Some((interval, interval.saturating_mul(burst.max(1) - 1)));
        }
        self
    }

    /// Posts allowed in flight now.
    pub fn limit(&self) -> usize {
        lock(&self.state).limit as usize
    }

    /// The most posts ever allowed in flight.
    pub fn max(&self) -> usize {
        self.max as usize
    }

    /// Posts in flight now.
    pub fn in_flight(&self) -> usize {
        lock(&self.state).in_flight
    }

    /// Waits for a place under the in-flight limit, then for the target
    /// rate; the place is held until the permit is dropped.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before the check, so a place freed in between wakes us.
            freed.as_mut().enable();
            {
                let mut state = lock(&self.state);
                if state.in_flight < (state.limit as usize).max(1) {
                    state.in_flight += 1;
                    break;
                }
            }
            freed.await;
        }
        // From here the place is ours: a permit gives it back on drop, even
        // if this future is dropped while pacing.
        let mut permit = Permit {
            brake: self,
            ticket: Ticket(0),
        };
        permit.ticket = self.start().await;
        permit
    }

    /// 429s that lowered the limit so far.
    pub fn decreases(&self) -> u64 {
        lock(&self.state).epoch
    }

    /// 429s seen so far.
    pub fn throttles(&self) -> u64 {
        lock(&self.state).throttles
    }

    /// Waits until the target rate lets one more post start, and hands out
    /// its ticket.
    pub async fn start(&self) -> Ticket {
        if let Some((interval, burst)) = self.pace {
            let wait = {
                let mut state = lock(&self.state);
                let now = Instant::now();
                let tat = state.next_start.map_or(now, |t| t.max(now));
                state.next_start = Some(tat + interval);
                (tat.checked_duration_since(now + burst)).unwrap_or_default()
            };
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        Ticket(lock(&self.state).epoch)
    }

    /// A post went through: additive increase.
    pub fn succeeded(&self) {
        let raised = {
            let mut state = lock(&self.state);
            let before = state.limit as usize;
            state.limit = (state.limit + 1.0 / state.limit).min(self.max);
            state.limit as usize > before
        };
        if raised {
            self.freed.notify_one();
        }
    }

    /// A post was throttled (429): multiplicative decrease, once per window.
    pub fn throttled(&self, ticket: Ticket) {
        let mut state = lock(&self.state);
        state.throttles += 1;
        if ticket.0 == state.epoch {
            state.limit = (state.limit / 2.0).max(self.min);
            state.epoch += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_of_429s_from_one_window_halves_once() {
        let brake = Brake::new(128, 1, 1024);
        let tickets: Vec<Ticket> = futures::future::join_all((0..50).map(|_| brake.start())).await;
        for ticket in tickets {
            brake.throttled(ticket);
        }
        assert_eq!(brake.limit(), 64);
        assert_eq!((brake.decreases(), brake.throttles()), (1, 50));
        // A post started after the decrease counts again.
        let later = brake.start().await;
        brake.throttled(later);
        assert_eq!(brake.limit(), 32);
    }

    #[tokio::test]
    async fn the_limit_recovers_by_one_per_window_and_stays_in_bounds() {
        let brake = Brake::new(8, 2, 10);
        for _ in 0..5 {
            let t = brake.start().await;
            brake.throttled(t);
        }
        assert_eq!(brake.limit(), 2, "never below min");
        // About one window of posts raises it by one: 2 → 2.5 → 2.9 → 3.24.
        brake.succeeded();
        brake.succeeded();
        assert_eq!(brake.limit(), 2);
        brake.succeeded();
        assert_eq!(brake.limit(), 3);
        for _ in 0..1000 {
            brake.succeeded();
        }
        assert_eq!(brake.limit(), 10, "never above max");
        let fixed = Brake::fixed(16);
        let t = fixed.start().await;
        fixed.throttled(t);
        assert_eq!(fixed.limit(), 16);
    }

    #[tokio::test]
    async fn permits_hold_places_under_the_limit_and_free_them_on_drop() {
        let brake = Brake::new(2, 1, 4);
        let a = brake.acquire().await;
        let b = brake.acquire().await;
        assert_eq!(brake.in_flight(), 2);
        // A third waits until one is dropped.
        let third = brake.acquire();
        tokio::pin!(third);
        assert!(futures::poll!(third.as_mut()).is_pending());
        drop(a);
        let c = third.await;
        assert_eq!(brake.in_flight(), 2);
        drop((b, c));
        assert_eq!(brake.in_flight(), 0);
        // A raised limit lets a waiter in without a drop.
        let brake = Brake::new(1, 1, 4);
        let held = brake.acquire().await;
        let second = brake.acquire();
        tokio::pin!(second);
        assert!(futures::poll!(second.as_mut()).is_pending());
        brake.succeeded();
        brake.succeeded();
        assert_eq!(brake.limit(), 2);
        let _second = second.await;
        drop(held);
    }

    #[tokio::test(start_paused = true)]
    async fn the_target_rate_spaces_posts_after_the_burst() {
        let brake = Brake::new(1000, 1, 1000).with_rate(100.0, 5);
        let begin = Instant::now();
        for _ in 0..25 {
            brake.start().await;
        }
        // 5 at once, then one per 10 ms: the 25th starts 200 ms in.
        let took = begin.elapsed();
        assert!(
            took >= Duration::from_millis(199) && took <= Duration::from_millis(201),
            "{took:?}"
        );
    }
}
