//! The per-client rate limit: coalesces a job's intermediate updates inside a window.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
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
///
/// Only a job that holds an update has a timer. A job whose window ended with nothing held
/// is forgotten when it next updates or ends, or by a sweep of the map once per window: a
/// job that goes out as `PROCESSING` then `COMPLETED`, the usual case, costs one insert and
/// one remove (a timer per window cost each client a queue push, a pop and a failed lookup
/// per job besides).
pub(crate) struct Coalescer {
    window: Duration,
    max_jobs: usize,
    /// Keyed by job id with the Fx hash: SipHash's cost showed per event per client, and a
    /// job id is not chosen by the client.
    jobs: FxHashMap<JobId, Slot>,
    /// `(window end, job)` of jobs holding an update, earliest first (a heap: a job's timer
    /// is set when it first holds an update, not when its window opened, so timers do not
    /// come in time order); an entry is stale unless `jobs[job]` still holds one with that
    /// `until`.
    timers: BinaryHeap<Reverse<(Instant, JobId)>>,
    /// No sweep for jobs whose window ended before this (see [`Coalescer::sweep`]).
    next_sweep: Option<Instant>,
    coalesced: u64,
}

struct Slot {
    until: Instant,
    held: Option<FrameRef>,
}

impl Coalescer {
    pub(crate) fn new(window: Duration, max_jobs: usize) -> Self {
        Self {
            window,
            max_jobs,
            jobs: FxHashMap::default(),
            timers: BinaryHeap::new(),
            next_sweep: None,
            coalesced: 0,
        }
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
        self.sweep(now);
        if self.jobs.len() >= self.max_jobs && !self.jobs.contains_key(&event.job_id) {
            return true;
        }
        match self.jobs.entry(event.job_id) {
            Entry::Occupied(mut entry) => {
                let slot = entry.get_mut();
                if now < slot.until {
                    match slot.held.replace(frame.to_entry()) {
                        Some(_) => self.coalesced += 1,
                        None => {
                            self.timers.push(Reverse((slot.until, event.job_id)));
                            self.drop_stale_timers();
                        }
                    }
                    return false;
                }
                // The window ended (its timer, if any, not polled yet): this update
                // supersedes anything held and opens a new window.
                if slot.held.take().is_some() {
                    self.coalesced += 1;
                }
                slot.until = later(now, self.window);
            }
            Entry::Vacant(entry) => {
                entry.insert(Slot { until: later(now, self.window), held: None });
            }
        }
        true
    }

    /// Drops the timers of jobs that no longer hold an update, once there are twice as many
    /// as jobs can be tracked (a client whose due updates are not taken keeps them otherwise).
    fn drop_stale_timers(&mut self) {
        if self.timers.len() > 2 * self.max_jobs.max(16) {
            let jobs = &self.jobs;
            self.timers.retain(|Reverse((until, job))| {
                jobs.get(job).is_some_and(|slot| slot.held.is_some() && slot.until == *until)
            });
        }
    }

    /// Forgets the jobs whose window ended with nothing held, once per window: the map then
    /// holds about the jobs of the last two windows, as it did when each window had a timer
    /// (a client that missed their terminal updates, as a lagging one does, would otherwise
    /// keep up to `max_jobs` of them for good).
    fn sweep(&mut self, now: Instant) {
        if self.next_sweep.is_some_and(|next| now < next) {
            return;
        }
        self.next_sweep = Some(later(now, self.window));
        self.jobs.retain(|_, slot| slot.held.is_some() || now < slot.until);
    }

    /// When the earliest held update is due, if any is held.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((until, _))| *until)
    }

    /// Moves the held updates whose window ended by `now` into `out`; each opens a new
    /// window.
    pub(crate) fn take_due(&mut self, now: Instant, out: &mut Vec<FrameRef>) {
        while let Some(&Reverse((until, job))) = self.timers.peek() {
            if until > now {
                break;
            }
            self.timers.pop();
            if let Some(slot) = self.jobs.get_mut(&job)
                && slot.until == until
                && let Some(frame) = slot.held.take()
            {
                slot.until = later(now, self.window);
                out.push(frame);
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
        assert_eq!(c.next_due(), None, "nothing is held: no timer");

        // The update sent opened a new window: the next one inside it is held.
        let g = frames(&[(1, Processing), (1, Processing)]).await;
        tokio::time::advance(Duration::from_millis(99)).await;
        assert!(!c.offer(g[0].as_item(), Instant::now()));
        tokio::time::advance(Duration::from_millis(1)).await;
        out.clear();
        c.take_due(Instant::now(), &mut out);
        assert_eq!(out.len(), 1);
        tokio::time::advance(WINDOW).await;
        assert!(c.offer(g[1].as_item(), Instant::now()), "a quiet job's next update goes out at once");
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_held_later_in_an_earlier_window_is_due_first() {
        use JobStatus::*;
        let f = frames(&[(1, Processing), (2, Processing), (2, Processing), (1, Processing)]).await;
        let mut c = Coalescer::new(WINDOW, 100);
        let start = Instant::now();
        assert!(c.offer(f[0].as_item(), start));
        tokio::time::advance(Duration::from_millis(50)).await;
        assert!(c.offer(f[1].as_item(), Instant::now()));
        tokio::time::advance(Duration::from_millis(10)).await;
        assert!(!c.offer(f[2].as_item(), Instant::now()), "job 2's window ends at 150 ms");
        tokio::time::advance(Duration::from_millis(10)).await;
        assert!(!c.offer(f[3].as_item(), Instant::now()), "job 1's window ends at 100 ms");
        assert_eq!(c.next_due(), Some(start + WINDOW));
        let mut out = Vec::new();
        tokio::time::advance(Duration::from_millis(30)).await;
        c.take_due(Instant::now(), &mut out);
        assert_eq!(seqs(&out), [4]);
        assert_eq!(c.next_due(), Some(start + Duration::from_millis(150)));
    }

    #[tokio::test(start_paused = true)]
    async fn jobs_whose_window_ended_quiet_are_swept_once_per_window() {
        let events: Vec<(u64, JobStatus)> =
            (0..4).chain([5, 9, 9]).map(|j| (j, JobStatus::Processing)).collect();
        let f = frames(&events).await;
        let mut c = Coalescer::new(WINDOW, 5);
        for frame in &f[..4] {
            assert!(c.offer(frame.as_item(), Instant::now()));
        }
        tokio::time::advance(WINDOW / 2).await;
        assert!(c.offer(f[4].as_item(), Instant::now()));
        assert_eq!(c.tracked(), 5, "no sweep inside the window");
        tokio::time::advance(WINDOW / 2).await;
        assert!(c.offer(f[5].as_item(), Instant::now()), "room made in a full map");
        assert_eq!(c.tracked(), 2, "jobs 0 to 3 were swept; 5's window is still open");
        assert!(!c.offer(f[6].as_item(), Instant::now()), "job 9 is rate-limited");
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
        for (round, jobs) in f.chunks(4).enumerate() {
            // Every other round each job's update is held, with a timer; the round after
            // finds the window ended unpolled and opens a new one, leaving the timer stale.
            tokio::time::advance(WINDOW / 2).await;
            for frame in jobs {
                assert_eq!(c.offer(frame.as_item(), Instant::now()), round % 2 == 0);
                assert!(c.timers.len() <= 2 * 16, "{} timers", c.timers.len());
            }
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
