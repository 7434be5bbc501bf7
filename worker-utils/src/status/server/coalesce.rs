//! The per-client rate limit: coalesces a job's intermediate updates inside a window.

use std::collections::VecDeque;
use std::collections::hash_map::Entry;
use std::time::Duration;

use rustc_hash::FxHashMap;
use tokio::time::Instant;

use super::limiter::later;
use crate::context::JobId;
use crate::status::broadcaster::{FrameItem, FrameRef};

/// Sends at most one non-terminal update per job per window; a newer update inside the
/// window replaces the held one, which goes out when the window ends. Terminal updates
/// (`COMPLETED`, `FAILED`) always go out at once and discard a held update of their job.
///
/// Pure state over a caller-supplied clock, so it is tested with tokio's paused clock.
/// Memory is bounded: beyond `max_jobs` tracked jobs, updates pass through uncoalesced. A
/// window too long for the clock never ends (only a terminal update releases its job).
pub(crate) struct Coalescer {
    window: Duration,
    max_jobs: usize,
    /// Keyed by job id with the Fx hash: SipHash's cost showed per event per client, and a
    /// job id is not chosen by the client.
    jobs: FxHashMap<JobId, Slot>,
    /// `(window end, job)` in time order; an entry is stale unless `jobs[job].until` equals it.
    timers: VecDeque<(Instant, JobId)>,
    coalesced: u64,
}

struct Slot {
    until: Instant,
    held: Option<FrameRef>,
}

impl Coalescer {
    pub(crate) fn new(window: Duration, max_jobs: usize) -> Self {
        Self { window, max_jobs, jobs: FxHashMap::default(), timers: VecDeque::new(), coalesced: 0 }
    }

    /// Whether `frame` goes out now; if not, it is held (replacing an older held update).
    pub(crate) fn offer(&mut self, frame: FrameItem<'_>, now: Instant) -> bool {
        if self.window.is_zero() {
            return true;
        }
        let event = frame.event();
        if event.status.is_terminal() {
            if let Some(slot) = self.jobs.remove(&event.job_id)
                && slot.held.is_some()
            {
                self.coalesced += 1;
            }
            return true;
        }
        let tracked = self.jobs.len();
        match self.jobs.entry(event.job_id) {
            Entry::Occupied(mut entry) => {
                let slot = entry.get_mut();
                if now < slot.until {
                    if slot.held.replace(frame.to_entry()).is_some() {
                        self.coalesced += 1;
                    }
                    return false;
                }
                // The window ended but its timer has not been polled yet: this update
                // supersedes anything held and opens a new window.
                if slot.held.take().is_some() {
                    self.coalesced += 1;
                }
                slot.until = later(now, self.window);
                self.timers.push_back((slot.until, event.job_id));
            }
            Entry::Vacant(entry) => {
                if tracked >= self.max_jobs {
                    return true;
                }
                let until = later(now, self.window);
                entry.insert(Slot { until, held: None });
                self.timers.push_back((until, event.job_id));
            }
        }
        if self.timers.len() > 2 * self.max_jobs.max(16) {
            let jobs = &self.jobs;
            self.timers.retain(|(until, job)| jobs.get(job).is_some_and(|slot| slot.until == *until));
        }
        true
    }

    /// When the earliest window ends, if any is open.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.timers.front().map(|(until, _)| *until)
    }

    /// Moves the held updates whose window ended by `now` into `out` (each opens a new
    /// window) and forgets jobs whose window ended with nothing held.
    pub(crate) fn take_due(&mut self, now: Instant, out: &mut Vec<FrameRef>) {
        while let Some(&(until, job)) = self.timers.front() {
            if until > now {
                break;
            }
            self.timers.pop_front();
            let Some(slot) = self.jobs.get_mut(&job) else { continue };
            if slot.until != until {
                continue;
            }
            match slot.held.take() {
                Some(frame) => {
                    slot.until = later(now, self.window);
                    self.timers.push_back((slot.until, job));
                    out.push(frame);
                }
                None => {
                    self.jobs.remove(&job);
                }
            }
        }
    }

    /// How many updates were replaced by a newer one and never sent.
    pub(crate) fn coalesced(&self) -> u64 {
        self.coalesced
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.jobs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{Broadcaster, JobStatus, StatusEvent, StatusSink};

    /// Frames as a client sees them, published through a real broadcaster.
    async fn frames(events: &[(u64, JobStatus)]) -> Vec<FrameRef> {
        let b = Broadcaster::new();
        let mut sub = b.subscribe().await;
        for &(job, status) in events {
            b.publish(StatusEvent::new(JobId::new(job), "q", status));
        }
        events.iter().map(|_| sub.cursor.next().unwrap().to_entry()).collect()
    }

    fn seqs(frames: &[FrameRef]) -> Vec<u64> {
        frames.iter().map(|f| f.event().seq).collect()
    }

    const WINDOW: Duration = Duration::from_millis(100);

    #[tokio::test(start_paused = true)]
    async fn intermediate_updates_inside_the_window_are_coalesced_to_the_latest() {
        use JobStatus::*;
        let f = frames(&[(1, Pending), (1, Processing), (1, Processing), (1, Processing)]).await;
        let mut c = Coalescer::new(WINDOW, 100);
        let now = Instant::now();
        assert!(c.offer(f[0].as_item(), now));
        assert!(!c.offer(f[1].as_item(), now));
        tokio::time::advance(Duration::from_millis(30)).await;
        assert!(!c.offer(f[2].as_item(), Instant::now()));
        assert!(!c.offer(f[3].as_item(), Instant::now()));
        assert_eq!(c.next_due(), Some(now + WINDOW));

        let mut out = Vec::new();
        tokio::time::advance(Duration::from_millis(69)).await;
        c.take_due(Instant::now(), &mut out);
        assert!(out.is_empty(), "nothing goes out before the window ends");

        tokio::time::advance(Duration::from_millis(1)).await;
        c.take_due(Instant::now(), &mut out);
        assert_eq!(seqs(&out), [4], "only the latest held update goes out");
        assert_eq!(c.coalesced(), 2);
        assert_eq!(c.next_due(), Some(Instant::now() + WINDOW), "a new window opened");

        out.clear();
        tokio::time::advance(WINDOW).await;
        c.take_due(Instant::now(), &mut out);
        assert!(out.is_empty());
        assert_eq!((c.tracked(), c.next_due()), (0, None), "a quiet job is forgotten");
    }

    #[tokio::test(start_paused = true)]
    async fn terminal_updates_are_never_held_and_discard_held_ones() {
        use JobStatus::*;
        let f =
            frames(&[(1, Processing), (1, Processing), (1, Completed), (2, Processing), (2, Failed)]).await;
        let mut c = Coalescer::new(WINDOW, 100);
        let now = Instant::now();
        assert!(c.offer(f[0].as_item(), now));
        assert!(!c.offer(f[1].as_item(), now));
        assert!(c.offer(f[2].as_item(), now), "COMPLETED goes out at once");
        assert!(c.offer(f[3].as_item(), now));
        assert!(c.offer(f[4].as_item(), now), "FAILED goes out at once");
        let mut out = Vec::new();
        tokio::time::advance(WINDOW * 3).await;
        c.take_due(Instant::now(), &mut out);
        assert!(out.is_empty(), "the held PROCESSING is never sent after COMPLETED");
        assert_eq!(c.coalesced(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn different_jobs_do_not_limit_each_other_and_memory_is_bounded() {
        let events: Vec<(u64, JobStatus)> = (0..10).map(|j| (j, JobStatus::Processing)).collect();
        let f = frames(&events).await;
        let mut c = Coalescer::new(WINDOW, 4);
        let now = Instant::now();
        assert!(f.iter().all(|frame| c.offer(frame.as_item(), now)));
        assert_eq!(c.tracked(), 4, "beyond max_jobs updates pass through untracked");
    }

    #[tokio::test(start_paused = true)]
    async fn stale_timers_of_a_client_that_never_takes_due_updates_stay_bounded() {
        let events: Vec<(u64, JobStatus)> = (0..1000).map(|j| (j % 4, JobStatus::Processing)).collect();
        let f = frames(&events).await;
        let mut c = Coalescer::new(WINDOW, 4);
        for frame in &f {
            // Each window has ended unpolled: every update opens a new one, with a new timer.
            tokio::time::advance(WINDOW).await;
            assert!(c.offer(frame.as_item(), Instant::now()));
            assert!(c.timers.len() <= 2 * 16, "{} timers", c.timers.len());
        }
        assert_eq!(c.tracked(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_window_passes_everything() {
        let f = frames(&[(1, JobStatus::Processing), (1, JobStatus::Processing)]).await;
        let mut c = Coalescer::new(Duration::ZERO, 4);
        assert!(f.iter().all(|frame| c.offer(frame.as_item(), Instant::now())));
        assert_eq!(c.next_due(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_of_duration_max_never_ends_and_does_not_overflow() {
        use JobStatus::*;
        let f = frames(&[(1, Processing), (1, Processing), (1, Completed)]).await;
        let mut c = Coalescer::new(Duration::MAX, 4);
        assert!(c.offer(f[0].as_item(), Instant::now()));
        assert!(!c.offer(f[1].as_item(), Instant::now()));
        let mut out = Vec::new();
        tokio::time::advance(Duration::from_secs(365 * 24 * 3600)).await;
        c.take_due(Instant::now(), &mut out);
        assert!(out.is_empty());
        assert!(c.offer(f[2].as_item(), Instant::now()), "a terminal update still goes out");
    }
}
