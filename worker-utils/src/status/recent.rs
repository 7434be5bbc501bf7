//! The latest state of the most recently updated jobs, kept for clients that connect late.
//!
//! Publishing keeps a reference to each published ring segment (with where its new items
//! start, as a single item may be appended to a segment already kept) and looks at none of
//! its items; the segments are boiled down to each job's latest entry only when they hold three
//! times `limit` items (or when someone reads them). Before, every published event was
//! appended to a log as an entry of its own (a reference-count bump, and a drop later),
//! and before that a hash map and an order queue were updated on every publish.

use std::mem;
use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::ring::{self, Batch, Entry};
use crate::context::JobId;

/// Compaction lets the segments grow by at least three times this many items, so that a
/// small `limit` does not compact on every publish.
const MIN_SLACK: usize = 64;

/// An item that reports a job's state.
pub(crate) trait OfJob {
    fn job(&self) -> JobId;
}

/// The latest item of each of the `limit` most recently updated jobs.
///
/// [`push`](Self::push) is one reference-count bump per ring segment; compaction costs,
/// amortized, a third of a hash-set insert and of an entry per item. Uncompacted segments
/// hold fewer than `slack + 64` items (`slack` = three times `limit`, at least
/// [`MIN_SLACK`], or as many as the ring keeps alive anyway if that is more: segments it
/// keeps cost nothing more to hold here); compaction walks them newest first and keeps the first entry it meets of
/// each job (its latest: a quick job's PROCESSING, followed by its COMPLETED, is skipped so),
/// until `limit` are kept. (A slack of `limit` cost a no-op job with status on 5 % more
/// instructions; each kept entry keeps its ring segment alive, which the memory bound of
/// `BroadcasterBuilder::channel_capacity` counts.)
pub(crate) struct RecentJobs<T, M> {
    /// The latest entry of each of at most `limit` jobs, oldest update first, as of the
    /// last compaction.
    kept: Vec<Entry<T, M>>,
    /// The segments published into since the last compaction, oldest first, each with the
    /// index of its first item published since.
    fresh: Vec<(Arc<Batch<T, M>>, usize)>,
    /// Items in `fresh`.
    fresh_items: usize,
    limit: usize,
    /// Items the uncompacted segments may hold before a compaction, at least.
    free: usize,
    /// The jobs seen by a compaction, and the list it builds: kept between compactions for
    /// their allocations.
    seen: FxHashSet<JobId>,
    spare: Vec<Entry<T, M>>,
}

impl<T: OfJob, M> RecentJobs<T, M> {
    /// Keeps the latest item of `limit` jobs (0 keeps nothing). `free`: items the ring
    /// keeps reachable whatever this does, which the uncompacted segments may hold too.
    pub(crate) fn new(limit: usize, free: usize) -> Self {
        Self {
            kept: Vec::new(),
            fresh: Vec::new(),
            fresh_items: 0,
            limit,
            free,
            seen: FxHashSet::default(),
            spare: Vec::new(),
        }
    }

    /// Items the uncompacted segments hold before the next push compacts them.
    fn slack(&self) -> usize {
        (3 * self.limit.max(MIN_SLACK)).max(self.free)
    }

    /// Records the items of `batch` from `from` on, just published, as the latest of their
    /// jobs.
    pub(crate) fn push(&mut self, batch: &Arc<Batch<T, M>>, from: usize) {
        if self.limit == 0 {
            return;
        }
        if self.fresh_items >= self.slack() {
            self.compact();
        }
        self.fresh_items += batch.len() - from;
        // An item appended to the segment pushed last is already covered by its entry.
        if !self.fresh.last().is_some_and(|(last, _)| Arc::ptr_eq(last, batch)) {
            self.fresh.push((Arc::clone(batch), from));
        }
    }

    /// The latest item of `job`, if it is among the recent jobs.
    pub(crate) fn latest(&mut self, job: JobId) -> Option<&Entry<T, M>> {
        self.compact();
        self.kept.iter().rev().find(|entry| entry.job() == job)
    }

    /// The latest item of each recent job, oldest update first.
    pub(crate) fn iter(&mut self) -> impl ExactSizeIterator<Item = &Entry<T, M>> {
        self.compact();
        self.kept.iter()
    }

    /// Items held uncompacted.
    #[cfg(test)]
    pub(crate) fn uncompacted(&self) -> usize {
        self.fresh_items
    }

    /// Keeps only the latest entry of each of the `limit` most recently updated jobs, in
    /// their order: walks the fresh segments, then the kept entries, from the newest back,
    /// and stops once `limit` jobs are seen; older items are dropped unread.
    fn compact(&mut self) {
        if self.fresh.is_empty() {
            return;
        }
        let mut newest_first = mem::take(&mut self.spare);
        'fresh: for (batch, from) in self.fresh.iter().rev() {
            for (index, item) in
                (*from..batch.len()).rev().filter_map(|index| Some((index, batch.get(index)?)))
            {
                if self.seen.len() == self.limit {
                    break 'fresh;
                }
                if self.seen.insert(item.job()) {
                    newest_first.push(ring::entry(batch, index));
                }
            }
        }
        for entry in self.kept.drain(..).rev() {
            if self.seen.len() == self.limit {
                break;
            }
            if self.seen.insert(entry.job()) {
                newest_first.push(entry);
            }
        }
        newest_first.reverse();
        self.spare = mem::replace(&mut self.kept, newest_first);
        self.seen.clear();
        self.fresh.clear();
        self.fresh_items = 0;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::status::ring::{MAX_BATCH, Writer};

    /// `(job, item number)`.
    type Item = (u64, u32);

    impl OfJob for Item {
        fn job(&self) -> JobId {
            JobId::new(self.0)
        }
    }

    /// What a compacted log must hold: the newest entry of each of the `limit` most
    /// recently updated jobs, oldest update first.
    fn expected(pushed: &[Item], limit: usize) -> Vec<Item> {
        let mut newest_first: Vec<Item> = Vec::new();
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

    /// `pushed`, published in batches of `segment` items, or appended item by item where
    /// `segment` is 0.
    fn recent(pushed: &[Item], segment: usize, limit: usize) -> RecentJobs<Item, ()> {
        published(pushed, &[segment], limit, 0)
    }

    /// `pushed`, published as `pattern` says, cycled: each number a batch of so many items,
    /// or a single item appended where it is 0; `free` as `RecentJobs::new` takes it.
    fn published(pushed: &[Item], pattern: &[usize], limit: usize, free: usize) -> RecentJobs<Item, ()> {
        let mut ring = Writer::new(16);
        let mut recent = RecentJobs::new(limit, free);
        let mut rest = pushed;
        for &segment in pattern.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (items, after) = rest.split_at(segment.clamp(1, rest.len()));
            if segment == 0 {
                let (batch, index) = ring.append(items[0]);
                recent.push(batch, index);
            } else {
                recent.push(ring.push(items.to_vec()), 0);
            }
            rest = after;
        }
        recent
    }

    fn kept(recent: &mut RecentJobs<Item, ()>) -> Vec<Item> {
        recent.iter().map(|entry| **entry).collect()
    }

    proptest! {
        #[test]
        fn keeps_the_latest_of_the_most_recently_updated_jobs(
            jobs in proptest::collection::vec(0..40_u64, 0..600),
            pattern in proptest::collection::vec(0..=MAX_BATCH, 1..8),
            limit in 0..50_usize,
            free in prop_oneof![Just(0_usize), 0..400_usize],
        ) {
            let pushed: Vec<Item> = jobs.iter().zip(0..).map(|(&job, n)| (job, n)).collect();
            let mut recent = published(&pushed, &pattern, limit, free);
            prop_assert!(recent.uncompacted() < recent.slack() + MAX_BATCH);
            let want = expected(&pushed, limit);
            for job in 0..40 {
                let latest = want.iter().find(|&&(seen, _)| seen == job).copied();
                prop_assert_eq!(recent.latest(JobId::new(job)).map(|entry| **entry), latest);
            }
            prop_assert_eq!(kept(&mut recent), want);
        }
    }

    #[test]
    fn distinct_jobs_are_compacted_by_dropping_the_oldest() {
        let pushed: Vec<Item> = (0..1000).map(|n| (n, n as u32)).collect();
        let mut recent = recent(&pushed, MAX_BATCH, 100);
        assert!(recent.uncompacted() < 300 + MAX_BATCH);
        assert_eq!(kept(&mut recent), pushed[900..]);
        assert_eq!((recent.uncompacted(), recent.kept.len()), (0, 100));
        assert!(recent.latest(JobId::new(899)).is_none());
    }

    #[test]
    fn a_job_updated_twice_in_a_segment_is_kept_once_with_its_last_item() {
        let mut recent = recent(&[(1, 1), (2, 2), (1, 3)], MAX_BATCH, 10);
        assert_eq!(kept(&mut recent), [(2, 2), (1, 3)]);
    }

    #[test]
    fn a_zero_limit_keeps_nothing() {
        let mut recent = recent(&[(1, 1), (2, 2)], MAX_BATCH, 0);
        assert_eq!((recent.uncompacted(), recent.iter().count()), (0, 0));
        assert!(recent.latest(JobId::new(1)).is_none());
    }
}
