//! The latest state of the most recently updated jobs, kept for clients that connect late.
//!
//! Publishing appends to a log in publish order and hashes nothing; the log is boiled down
//! to each job's latest entry only when it has grown by three times `limit` entries (or when
//! someone reads it). Before, a hash map and an order queue were updated on every publish, and once
//! `limit` jobs were kept every new job also cost a hash map eviction.

use std::collections::VecDeque;

use rustc_hash::FxHashSet;

use crate::context::JobId;

/// Compaction lets the log grow by at least three times this many entries, so that a small
/// `limit` does not compact on every publish.
const MIN_SLACK: usize = 64;

/// The latest item of each of the `limit` most recently updated jobs.
///
/// `push` is one append, amortized a third of a hash-set insert per entry: the log holds at
/// most `limit + slack` entries (`slack` = three times `limit`, at least [`MIN_SLACK`]); when
/// it is full it keeps the newest entry of each of the `limit` most recently updated jobs and
/// drops the rest in one pass. (A slack of `limit` cost a no-op job with status on 5 % more
/// instructions; each entry may keep a ring segment alive, which the memory bound of
/// `BroadcasterBuilder::channel_capacity` counts.)
pub(crate) struct RecentJobs<T> {
    /// `(job, item)`, oldest first; a job may appear more than once until compacted.
    log: VecDeque<(JobId, T)>,
    limit: usize,
    /// The jobs seen by a compaction; kept between compactions for its allocation.
    seen: FxHashSet<JobId>,
}

impl<T> RecentJobs<T> {
    /// Keeps the latest item of `limit` jobs (0 keeps nothing).
    pub(crate) fn new(limit: usize) -> Self {
        Self { log: VecDeque::new(), limit, seen: FxHashSet::default() }
    }

    /// Entries the log holds at most before it is compacted.
    fn capacity(&self) -> usize {
        self.limit + 3 * self.limit.max(MIN_SLACK)
    }

    /// Records `item` as the latest of `job`.
    pub(crate) fn push(&mut self, job: JobId, item: T) {
        if self.limit == 0 {
            return;
        }
        if self.log.len() >= self.capacity() {
            self.compact();
        }
        self.log.push_back((job, item));
    }

    /// The latest item of `job`, if it is among the recent jobs.
    pub(crate) fn latest(&mut self, job: JobId) -> Option<&T> {
        self.compact();
        self.log.iter().rev().find(|(id, _)| *id == job).map(|(_, item)| item)
    }

    /// The latest item of each recent job, oldest update first.
    pub(crate) fn iter(&mut self) -> impl ExactSizeIterator<Item = &T> {
        self.compact();
        self.log.iter().map(|(_, item)| item)
    }

    /// Log entries, compacted or not.
    #[cfg(test)]
    pub(crate) fn logged(&self) -> usize {
        self.log.len()
    }

    /// Keeps only the newest entry of each of the `limit` most recently updated jobs, in
    /// their order. Walks from the newest entry back, moving each kept one next to the
    /// kept ones after it, and stops once `limit` are kept: older ones are dropped unread.
    fn compact(&mut self) {
        let mut kept = self.log.len();
        for index in (0..self.log.len()).rev() {
            if self.seen.len() == self.limit {
                break;
            }
            if self.seen.insert(self.log[index].0) {
                kept -= 1;
                self.log.swap(index, kept);
            }
        }
        self.seen.clear();
        self.log.drain(..kept);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What a compacted log must hold: the newest entry of each of the `limit` most
    /// recently updated jobs, oldest update first.
    fn expected(pushed: &[(u64, u32)], limit: usize) -> Vec<(u64, u32)> {
        let mut newest_first: Vec<(u64, u32)> = Vec::new();
        for &(job, item) in pushed.iter().rev() {
            if newest_first.len() == limit {
                break;
            }
            if !newest_first.iter().any(|&(seen, _)| seen == job) {
                newest_first.push((job, item));
            }
        }
        newest_first.reverse();
        newest_first
    }

    fn recent(pushed: &[(u64, u32)], limit: usize) -> RecentJobs<(u64, u32)> {
        let mut recent = RecentJobs::new(limit);
        for &(job, item) in pushed {
            recent.push(JobId::new(job), (job, item));
        }
        recent
    }

    proptest! {
        #[test]
        fn keeps_the_latest_of_the_most_recently_updated_jobs(
            jobs in proptest::collection::vec(0..40_u64, 0..600),
            limit in 0..50_usize,
        ) {
            let pushed: Vec<(u64, u32)> = jobs.iter().zip(0..).map(|(&job, n)| (job, n)).collect();
            let mut recent = recent(&pushed, limit);
            prop_assert!(recent.logged() <= recent.capacity());
            let want = expected(&pushed, limit);
            for job in 0..40 {
                let latest = want.iter().find(|&&(seen, _)| seen == job).copied();
                prop_assert_eq!(recent.latest(JobId::new(job)).copied(), latest);
            }
            prop_assert_eq!(recent.iter().copied().collect::<Vec<_>>(), want);
        }
    }

    #[test]
    fn a_log_of_distinct_jobs_is_compacted_by_dropping_the_oldest() {
        let pushed: Vec<(u64, u32)> = (0..1000).map(|n| (n, n as u32)).collect();
        let mut recent = recent(&pushed, 100);
        assert!(recent.logged() <= 400);
        assert_eq!(recent.iter().copied().collect::<Vec<_>>(), pushed[900..]);
        assert_eq!(recent.logged(), 100);
        assert!(recent.latest(JobId::new(899)).is_none());
    }

    #[test]
    fn a_zero_limit_keeps_nothing() {
        let mut recent = recent(&[(1, 1), (2, 2)], 0);
        assert_eq!((recent.logged(), recent.iter().count()), (0, 0));
        assert!(recent.latest(JobId::new(1)).is_none());
    }
}
