//! The bounded broadcast ring behind the broadcaster: one writer (under the broadcaster's
//! lock), any number of readers that never take a lock the writer holds.
//!
//! Items are published in immutable batches linked one to the next. A reader holds the
//! batch it reads and follows the link when it reaches the end, so reading is a plain load
//! per item and a reference-count bump per batch; publishing is one allocation and one
//! link per batch, and takes the publisher's `Vec` as it is, without moving an item. Each
//! batch also carries a memo of type `M`, for what readers derive from its items and share
//! (the broadcaster's JSON texts), made on first use rather than per item when published. The writer keeps the last `capacity` items reachable; a reader that
//! falls further behind than that is moved forward and told how many items it missed.
//! Publishing is announced through an atomic tail, and a parked waiter is woken only when
//! it said it is parked, so a write with nobody waiting costs no wake-up.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use tokio::sync::Notify;

/// Items per batch at most, so that a kept item pins a bounded amount of memory.
pub(crate) const MAX_BATCH: usize = 64;

pub(crate) struct Batch<T, M = ()> {
    /// Sequence number of `items[0]`.
    first: u64,
    items: Vec<T>,
    memo: M,
    /// Set when the writer links the following batch; dangling once the writer forgot it.
    next: OnceLock<Weak<Batch<T, M>>>,
}

impl<T, M> Batch<T, M> {
    pub(crate) fn items(&self) -> &[T] {
        &self.items
    }

    /// What readers derived from the items and share.
    pub(crate) fn memo(&self) -> &M {
        &self.memo
    }

    fn end(&self) -> u64 {
        self.first + self.items.len() as u64
    }
}

/// A published item, shared: keeps its batch alive.
pub(crate) struct Entry<T, M = ()> {
    batch: Arc<Batch<T, M>>,
    index: usize,
}

impl<T, M> Clone for Entry<T, M> {
    fn clone(&self) -> Self {
        Self { batch: Arc::clone(&self.batch), index: self.index }
    }
}

impl<T, M> Entry<T, M> {
    /// The item's batch and its place in it.
    pub(crate) fn position(&self) -> (&Batch<T, M>, usize) {
        (&self.batch, self.index)
    }

    #[cfg(test)]
    pub(crate) fn as_item(&self) -> Item<'_, T, M> {
        Item { batch: &self.batch, index: self.index }
    }
}

impl<T, M> Deref for Entry<T, M> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.batch.items[self.index]
    }
}

/// A published item borrowed from a reader's batch; [`Item::to_entry`] keeps it.
pub(crate) struct Item<'a, T, M = ()> {
    batch: &'a Arc<Batch<T, M>>,
    index: usize,
}

impl<T, M> Clone for Item<'_, T, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, M> Copy for Item<'_, T, M> {}

impl<'a, T, M> Item<'a, T, M> {
    pub(crate) fn get(self) -> &'a T {
        &self.batch.items[self.index]
    }

    /// The item's batch and its place in it.
    pub(crate) fn position(self) -> (&'a Batch<T, M>, usize) {
        (self.batch, self.index)
    }

    pub(crate) fn to_entry(self) -> Entry<T, M> {
        Entry { batch: Arc::clone(self.batch), index: self.index }
    }
}

/// The writer's side; lives under the broadcaster's lock.
pub(crate) struct Writer<T, M = ()> {
    /// Batches kept reachable, oldest first; never empty (the newest is linked to next).
    window: VecDeque<Arc<Batch<T, M>>>,
    /// Items in `window`.
    kept: usize,
    capacity: usize,
}

impl<T, M: Default> Writer<T, M> {
    /// A writer whose readers may fall `capacity` items behind; the first item gets
    /// sequence number 1.
    pub(crate) fn new(capacity: usize) -> Self {
        let empty =
            Arc::new(Batch { first: 1, items: Vec::new(), memo: M::default(), next: OnceLock::new() });
        Self { window: VecDeque::from([empty]), kept: 0, capacity }
    }

    fn newest(&self) -> &Arc<Batch<T, M>> {
        &self.window[self.window.len() - 1]
    }

    /// Sequence number of the next item.
    pub(crate) fn next_seq(&self) -> u64 {
        self.newest().end()
    }

    /// Sequence number of the last item (0 before the first).
    pub(crate) fn last(&self) -> u64 {
        self.next_seq() - 1
    }

    /// Publishes `items` (at most [`MAX_BATCH`], numbered from [`next_seq`](Self::next_seq)
    /// on) as one batch, and returns it. Readers see it at once; the [`Tail`] is the
    /// caller's to advance. The batch keeps `items` as it is, spare capacity included.
    pub(crate) fn push(&mut self, items: Vec<T>) -> Arc<Batch<T, M>> {
        debug_assert!(items.len() <= MAX_BATCH);
        let batch =
            Arc::new(Batch { first: self.next_seq(), items, memo: M::default(), next: OnceLock::new() });
        // Only the writer links, each batch once.
        let _ = self.newest().next.set(Arc::downgrade(&batch));
        self.kept += batch.items.len();
        self.window.push_back(Arc::clone(&batch));
        while self.window.len() > 1 && self.kept - self.window[0].items.len() >= self.capacity {
            if let Some(old) = self.window.pop_front() {
                self.kept -= old.items.len();
            }
        }
        batch
    }

    /// A reader that starts with the next item.
    pub(crate) fn cursor(&self) -> Cursor<T, M> {
        let newest = self.newest();
        Cursor { batch: Arc::clone(newest), index: newest.items.len(), next: newest.end() }
    }

    /// Moves `cursor` to item `seq`, or to the oldest item still kept if `seq` is gone.
    pub(crate) fn seek(&self, cursor: &mut Cursor<T, M>, seq: u64) {
        let seq = seq.clamp(self.window[0].first, self.next_seq());
        let at = self.window.partition_point(|batch| batch.end() <= seq).min(self.window.len() - 1);
        let batch = &self.window[at];
        *cursor = Cursor { batch: Arc::clone(batch), index: (seq - batch.first) as usize, next: seq };
    }
}

/// The published item `index` of `batch`.
pub(crate) fn entry<T, M>(batch: &Arc<Batch<T, M>>, index: usize) -> Entry<T, M> {
    Entry { batch: Arc::clone(batch), index }
}

impl<T, M: Default> fmt::Debug for Writer<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer").field("last", &self.last()).field("kept", &self.kept).finish()
    }
}

/// One reader's position. A clone reads on from the same place, independently.
pub(crate) struct Cursor<T, M = ()> {
    batch: Arc<Batch<T, M>>,
    index: usize,
    /// Sequence number of the next item to read.
    next: u64,
}

impl<T, M> Clone for Cursor<T, M> {
    fn clone(&self) -> Self {
        Self { batch: Arc::clone(&self.batch), index: self.index, next: self.next }
    }
}

impl<T, M> Cursor<T, M> {
    /// Sequence number of the next item to read.
    pub(crate) fn position(&self) -> u64 {
        self.next
    }

    /// The next item, if it is published and still reachable. `None` with a tail at or
    /// beyond [`position`](Self::position) means the reader was lapped.
    pub(crate) fn next(&mut self) -> Option<Item<'_, T, M>> {
        while self.index == self.batch.items.len() {
            let following = self.batch.next.get()?.upgrade()?;
            self.batch = following;
            self.index = 0;
        }
        let index = self.index;
        self.index += 1;
        self.next += 1;
        Some(Item { batch: &self.batch, index })
    }
}

/// Pads a value to its own cache lines so that writers of one do not slow readers of
/// another.
#[repr(align(128))]
struct Padded<T>(T);

/// The published tail and the wake-up of parked waiters.
pub(crate) struct Tail {
    seq: Padded<AtomicU64>,
    parked: Padded<AtomicBool>,
    notify: Notify,
}

impl Tail {
    pub(crate) fn new() -> Self {
        Self { seq: Padded(AtomicU64::new(0)), parked: Padded(AtomicBool::new(false)), notify: Notify::new() }
    }

    /// Sequence number of the last announced item.
    pub(crate) fn get(&self) -> u64 {
        self.seq.0.load(Ordering::Acquire)
    }

    /// Announces every item up to `seq`, waking the waiters only if one is parked.
    pub(crate) fn advance(&self, seq: u64) {
        // SeqCst store, then SeqCst load: either the waiter sees the new tail after it
        // said it is parked, or this sees that it is parked (see `changed`).
        self.seq.0.store(seq, Ordering::SeqCst);
        if self.parked.0.load(Ordering::SeqCst) && self.parked.0.swap(false, Ordering::SeqCst) {
            self.notify.notify_waiters();
        }
    }

    /// Waits until the tail moves past `seen`, and returns it.
    pub(crate) async fn changed(&self, seen: u64) -> u64 {
        loop {
            let tail = self.seq.0.load(Ordering::SeqCst);
            if tail != seen {
                return tail;
            }
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            self.parked.0.store(true, Ordering::SeqCst);
            let tail = self.seq.0.load(Ordering::SeqCst);
            if tail != seen {
                return tail;
            }
            notified.await;
        }
    }
}

impl fmt::Debug for Tail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tail").field("seq", &self.get()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(cursor: &mut Cursor<u64>) -> Vec<u64> {
        std::iter::from_fn(|| cursor.next().map(|item| *item.get())).collect()
    }

    fn push(w: &mut Writer<u64>, items: std::ops::RangeInclusive<u64>) {
        let items: Vec<u64> = items.collect();
        for chunk in items.chunks(MAX_BATCH) {
            w.push(chunk.to_vec());
        }
    }

    #[test]
    fn readers_see_every_item_across_batches() {
        let mut w = Writer::new(200);
        let mut early = w.cursor();
        push(&mut w, 1..=150);
        let mut late = w.cursor();
        assert_eq!(drain(&mut early), (1..=150).collect::<Vec<_>>());
        assert!(drain(&mut late).is_empty());
        push(&mut w, 151..=300);
        assert_eq!(drain(&mut late), (151..=300).collect::<Vec<_>>());
        assert_eq!(drain(&mut early), (151..=300).collect::<Vec<_>>());
        assert_eq!((w.last(), early.position()), (300, 301));
    }

    #[test]
    fn memory_stays_bounded_and_a_lapped_reader_is_moved_to_the_oldest_kept_item() {
        let mut w = Writer::new(16);
        let mut slow = w.cursor();
        // Wraps around the window many times, one item per batch.
        for i in 1..=1000 {
            w.push(vec![i]);
            assert!(w.kept <= 16 && w.window.len() <= 16);
        }
        // The slow reader's next batch is gone: lapped.
        assert!(slow.next().is_none());
        assert!(w.last() >= slow.position());
        w.seek(&mut slow, w.last() + 1 - 16);
        assert_eq!(drain(&mut slow), (985..=1000).collect::<Vec<_>>());
        // A seek to a forgotten item lands on the oldest kept one.
        w.seek(&mut slow, 1);
        assert_eq!(drain(&mut slow).first(), Some(&985));
        // Into the middle of a batch, and to the very end.
        push(&mut w, 1001..=1064);
        w.seek(&mut slow, 1060);
        assert_eq!(drain(&mut slow), (1060..=1064).collect::<Vec<_>>());
        w.seek(&mut slow, 5000);
        assert!(slow.next().is_none());
        assert_eq!(slow.position(), 1065);
    }

    #[test]
    fn a_cloned_cursor_reads_on_independently() {
        let mut w = Writer::new(200);
        let mut first = w.cursor();
        push(&mut w, 1..=70);
        assert_eq!(first.next().map(|item| *item.get()), Some(1));
        let mut second = first.clone();
        assert_eq!(drain(&mut first), (2..=70).collect::<Vec<_>>());
        assert_eq!(second.position(), 2);
        assert_eq!(drain(&mut second), (2..=70).collect::<Vec<_>>());
    }

    #[test]
    fn entries_outlive_the_window() {
        let mut w = Writer::new(4);
        let batch = w.push(vec![7_u64, 8]);
        let first = entry(&batch, 1);
        drop(batch);
        push(&mut w, 1..=100);
        assert_eq!(*first, 8);
        assert_eq!(*first.clone(), 8);
    }

    #[test]
    fn concurrent_writer_and_readers_see_items_in_order_without_gaps_unless_lapped() {
        const ITEMS: u64 = 20_000;
        const CAPACITY: u64 = 256;
        let writer = Arc::new(std::sync::Mutex::new(Writer::<u64>::new(CAPACITY as usize)));
        let tail = Arc::new(Tail::new());
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let mut cursor = writer.lock().unwrap().cursor();
                let (writer, tail) = (Arc::clone(&writer), Arc::clone(&tail));
                std::thread::spawn(move || {
                    let (mut last, mut missed) = (0_u64, 0_u64);
                    let mut rounds = 0_u64;
                    while last < ITEMS {
                        rounds += 1;
                        assert!(rounds < 50_000_000, "reader made no progress");
                        let seen = tail.get();
                        if seen.saturating_sub(cursor.position() - 1) > CAPACITY {
                            let before = cursor.position();
                            writer.lock().unwrap().seek(&mut cursor, seen + 1 - CAPACITY);
                            missed += cursor.position() - before;
                        }
                        while let Some(item) = cursor.next() {
                            let value = *item.get();
                            assert!(value > last, "items arrive in order, without repeats");
                            assert!(missed > 0 || value == last + 1, "no gap without a lag");
                            last = value;
                        }
                    }
                    (last, missed)
                })
            })
            .collect();
        let mut i = 1;
        while i <= ITEMS {
            let n = (i % 7 + 1).min(ITEMS - i + 1);
            let mut w = writer.lock().unwrap();
            w.push((i..i + n).collect());
            tail.advance(w.last());
            i += n;
        }
        for reader in readers {
            let (last, missed) = reader.join().unwrap();
            assert_eq!(last, ITEMS);
            assert!(missed < ITEMS);
        }
    }

    #[tokio::test]
    async fn a_parked_waiter_is_woken_and_an_unparked_advance_costs_no_wake() {
        let tail = Arc::new(Tail::new());
        tail.advance(1);
        assert_eq!(tail.changed(0).await, 1, "a moved tail returns at once");
        let waiter = tokio::spawn({
            let tail = Arc::clone(&tail);
            async move { tail.changed(1).await }
        });
        while !tail.parked.0.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        tail.advance(2);
        assert_eq!(waiter.await.unwrap(), 2);
        assert!(!tail.parked.0.load(Ordering::SeqCst), "the wake-up cleared the flag");
    }
}
