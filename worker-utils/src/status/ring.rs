//! The bounded broadcast ring behind the broadcaster: one writer (under the broadcaster's
//! lock), any number of readers that never take a lock the writer holds.
//!
//! Items are published in segments linked one to the next. A reader holds the segment it
//! reads and follows the link when it reaches the end, so reading is a plain load per item
//! and a reference-count bump per segment. A batch becomes a sealed segment: one
//! allocation and one link, and the publisher's `Vec` is kept as it is, without moving an
//! item. Single items are appended to an open segment of slots until its slots run out or
//! a batch follows, so that a stream of single publishes costs readers a segment change
//! (two contended reference-count operations per reader) per up to 64 items instead of per
//! item. Each segment also carries a memo of type `M`, for what readers derive from its
//! items and share (the broadcaster's JSON texts), made on first use rather than per item
//! when published. The writer keeps the last `capacity` items reachable; a reader that
//! falls further behind than that is moved forward and told how many items it missed.
//! Publishing is announced through an atomic tail, and a parked waiter is woken only when
//! it said it is parked, so a write with nobody waiting costs no wake-up.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use tokio::sync::Notify;

/// Items per segment at most, so that a kept item pins a bounded amount of memory.
pub(crate) const MAX_BATCH: usize = 64;

/// Slots of an open segment at least; see [`Writer::open_slots`].
const MIN_OPEN_SLOTS: usize = 4;

pub(crate) struct Batch<T, M = ()> {
    /// Sequence number of the first item.
    first: u64,
    items: Items<T>,
    memo: M,
    /// Set when the writer links the following segment, after this one's last item;
    /// dangling once the writer forgot it.
    next: OnceLock<Weak<Batch<T, M>>>,
}

/// A segment's items.
enum Items<T> {
    /// A publisher's batch, whole when published.
    Sealed(Vec<T>),
    /// Single items, set one slot after another by the writer; `len` are set.
    Open { slots: Box<[OnceLock<T>]>, len: AtomicUsize },
}

impl<T, M> Batch<T, M> {
    /// Item `index`, if it is published.
    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        match &self.items {
            Items::Sealed(items) => items.get(index),
            Items::Open { slots, .. } => slots.get(index)?.get(),
        }
    }

    /// Items published in this segment so far.
    pub(crate) fn len(&self) -> usize {
        match &self.items {
            Items::Sealed(items) => items.len(),
            Items::Open { len, .. } => len.load(Ordering::Acquire),
        }
    }

    /// Items this segment can hold: what per-item parts of a memo are sized by.
    pub(crate) fn capacity(&self) -> usize {
        match &self.items {
            Items::Sealed(items) => items.len(),
            Items::Open { slots, .. } => slots.len(),
        }
    }

    /// What readers derived from the items and share.
    pub(crate) fn memo(&self) -> &M {
        &self.memo
    }

    fn end(&self) -> u64 {
        self.first + self.len() as u64
    }
}

/// A published item, shared: keeps its segment alive.
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
    /// The item's segment and its place in it.
    pub(crate) fn position(&self) -> (&Batch<T, M>, usize) {
        (&self.batch, self.index)
    }

    #[cfg(test)]
    pub(crate) fn as_item(&self) -> Item<'_, T, M> {
        Item { batch: &self.batch, index: self.index, item: self }
    }
}

impl<T, M> Deref for Entry<T, M> {
    type Target = T;

    fn deref(&self) -> &T {
        self.batch.get(self.index).expect("an entry is made of a published item")
    }
}

/// A published item borrowed from a reader's segment; [`Item::to_entry`] keeps it.
pub(crate) struct Item<'a, T, M = ()> {
    batch: &'a Arc<Batch<T, M>>,
    index: usize,
    /// The item itself, looked up once by the reader.
    item: &'a T,
}

impl<T, M> Clone for Item<'_, T, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, M> Copy for Item<'_, T, M> {}

impl<'a, T, M> Item<'a, T, M> {
    pub(crate) fn get(self) -> &'a T {
        self.item
    }

    /// The item's segment and its place in it.
    pub(crate) fn position(self) -> (&'a Batch<T, M>, usize) {
        (self.batch, self.index)
    }

    pub(crate) fn to_entry(self) -> Entry<T, M> {
        Entry { batch: Arc::clone(self.batch), index: self.index }
    }
}

/// The writer's side; lives under the broadcaster's lock.
pub(crate) struct Writer<T, M = ()> {
    /// Segments kept reachable, oldest first; never empty (the newest is linked to next).
    window: VecDeque<Arc<Batch<T, M>>>,
    /// Items in `window`.
    kept: usize,
    capacity: usize,
    /// Slots of the next open segment: twice the items the last open segment took, from
    /// [`MIN_OPEN_SLOTS`] to [`MAX_BATCH`]. A stream of single items soon fills segments
    /// of 64, while a single item between batches leaves at most 3 slots unused.
    open_slots: usize,
    /// The emptied buffer of the last sealed segment forgotten while nobody else held it:
    /// the publisher's next batch buffer (see [`buffer`](Self::buffer)).
    spare: Option<Vec<T>>,
}

impl<T, M: Default> Writer<T, M> {
    /// A writer whose readers may fall `capacity` items behind; the first item gets
    /// sequence number 1.
    pub(crate) fn new(capacity: usize) -> Self {
        let empty = Arc::new(Batch {
            first: 1,
            items: Items::Sealed(Vec::new()),
            memo: M::default(),
            next: OnceLock::new(),
        });
        Self { window: VecDeque::from([empty]), kept: 0, capacity, open_slots: MIN_OPEN_SLOTS, spare: None }
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
    /// on) as one sealed segment, and returns it. Readers see it at once; the [`Tail`] is
    /// the caller's to advance. The segment keeps `items` as it is, spare capacity included.
    pub(crate) fn push(&mut self, items: Vec<T>) -> &Arc<Batch<T, M>> {
        debug_assert!(items.len() <= MAX_BATCH);
        self.link(|_| Items::Sealed(items))
    }

    /// Publishes `item` (numbered [`next_seq`](Self::next_seq)) into the open segment, or a
    /// new one if the newest segment is sealed or full, and returns its segment and place.
    /// Readers see it at once; the [`Tail`] is the caller's to advance.
    pub(crate) fn append(&mut self, item: T) -> (&Arc<Batch<T, M>>, usize) {
        if let Items::Open { slots, len } = &self.newest().items {
            let index = len.load(Ordering::Relaxed);
            if let Some(slot) = slots.get(index) {
                // Only the writer sets slots, each once, in order.
                let _ = slot.set(item);
                // Release: a reader that sees the new length sees the item.
                len.store(index + 1, Ordering::Release);
                self.kept += 1;
                self.forget_old();
                return (self.newest(), index);
            }
        }
        let open = |slots| Items::Open {
            slots: std::iter::once(OnceLock::from(item)).chain((1..slots).map(|_| OnceLock::new())).collect(),
            len: AtomicUsize::new(1),
        };
        (self.link(open), 0)
    }

    /// Links a new segment after the newest, which that closes; `items` makes its items,
    /// given the slots an open segment has.
    fn link(&mut self, items: impl FnOnce(usize) -> Items<T>) -> &Arc<Batch<T, M>> {
        if let Items::Open { len, .. } = &self.newest().items {
            self.open_slots = (2 * len.load(Ordering::Relaxed)).clamp(MIN_OPEN_SLOTS, MAX_BATCH);
        }
        let items = items(self.open_slots);
        let newest = self.newest();
        let batch = Arc::new(Batch { first: newest.end(), items, memo: M::default(), next: OnceLock::new() });
        // Only the writer links, each segment once.
        let _ = newest.next.set(Arc::downgrade(&batch));
        self.kept += batch.len();
        self.window.push_back(batch);
        self.forget_old();
        self.newest()
    }

    /// Drops the oldest segments for as long as the rest keep `capacity` items, keeping the
    /// buffer of a sealed one nobody else holds as the spare.
    fn forget_old(&mut self) {
        while self.window.len() > 1 && self.kept - self.window[0].len() >= self.capacity {
            if let Some(old) = self.window.pop_front() {
                self.kept -= old.len();
                if let Some(Batch { items: Items::Sealed(mut items), .. }) = Arc::into_inner(old) {
                    items.clear();
                    self.spare = Some(items);
                }
            }
        }
    }

    /// An empty buffer for a batch of up to `capacity` items: the spare, if it has room,
    /// or a new one.
    ///
    /// Reusing the spare saves an allocation and a free of a batch's buffer per batch, and
    /// hands the publisher memory this thread has just read (dropping its items) rather than
    /// a block that glibc may return to the arena of the other thread, which allocated it:
    /// the no-op worker with status on ran 2–5 % faster (BENCHMARKS.md §21).
    pub(crate) fn buffer(&mut self, capacity: usize) -> Vec<T> {
        match self.spare.take() {
            Some(spare) if spare.capacity() >= capacity => spare,
            _ => Vec::with_capacity(capacity),
        }
    }

    /// A reader that starts with the next item.
    pub(crate) fn cursor(&self) -> Cursor<T, M> {
        let newest = self.newest();
        Cursor { batch: Arc::clone(newest), index: newest.len(), next: newest.end() }
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
        while self.batch.get(self.index).is_none() {
            // Nothing there yet: the segment ended if the writer linked the next one, which
            // it does after the segment's last item (so look once more before following).
            let following = self.batch.next.get()?;
            if self.batch.get(self.index).is_some() {
                break;
            }
            self.batch = following.upgrade()?;
            self.index = 0;
        }
        let index = self.index;
        let item = self.batch.get(index)?;
        self.index += 1;
        self.next += 1;
        Some(Item { batch: &self.batch, index, item })
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
    fn a_forgotten_batch_nobody_holds_lends_its_buffer_to_the_next() {
        let mut w = Writer::<u64>::new(2);
        let mut first = Vec::with_capacity(8);
        first.extend([1, 2]);
        let first_buffer = first.as_ptr();
        w.push(first);
        w.push(vec![3, 4]);
        let spare = w.buffer(8);
        assert_eq!((spare.as_ptr(), spare.len(), spare.capacity()), (first_buffer, 0, 8));
        assert!(w.spare.is_none(), "lent once");

        // Held by a reader when forgotten: dropped with its last holder, not kept.
        let reader = w.cursor();
        w.push(vec![5, 6]);
        assert!(w.spare.is_none());
        drop(reader);
        // Too small for the batch asked for: a new buffer.
        w.push(vec![7, 8]);
        assert_eq!(w.spare.as_ref().map(Vec::capacity), Some(2));
        assert_eq!(w.buffer(64).capacity(), 64);
    }

    #[test]
    fn appended_items_are_read_as_they_come_and_between_batches() {
        let mut w = Writer::new(1000);
        let mut reader = w.cursor();
        w.append(1);
        assert_eq!(drain(&mut reader), [1]);
        // Appended after the reader reached the end of the open segment: read on from there.
        w.append(2);
        w.append(3);
        assert_eq!(drain(&mut reader), [2, 3]);
        push(&mut w, 4..=5);
        w.append(6);
        let mut late = w.cursor();
        w.append(7);
        assert_eq!(drain(&mut reader), [4, 5, 6, 7]);
        assert_eq!(drain(&mut late), [7]);
        w.seek(&mut late, 2);
        assert_eq!(drain(&mut late), (2..=7).collect::<Vec<_>>());
        assert_eq!((w.last(), reader.position()), (7, 8));
    }

    /// Slots of each open segment, oldest first.
    fn open_slots(w: &Writer<u64>) -> Vec<usize> {
        w.window.iter().filter(|b| matches!(b.items, Items::Open { .. })).map(|b| b.capacity()).collect()
    }

    #[test]
    fn open_segments_double_while_full_and_shrink_after_a_batch() {
        let mut w = Writer::new(10_000);
        for i in 1..=200 {
            w.append(i);
        }
        // 4 + 8 + 16 + 32 + 64 + 64 = 188 items, and 12 in the last.
        assert_eq!(open_slots(&w), [4, 8, 16, 32, 64, 64, 64]);
        // A batch closes that one with 12 items: the next has room for 24; and so on.
        push(&mut w, 201..=202);
        for i in 203..=210 {
            w.append(i);
        }
        push(&mut w, 211..=211);
        w.append(212);
        push(&mut w, 213..=213);
        w.append(214);
        assert_eq!(open_slots(&w)[7..], [24, 16, 4]);
        let mut all = w.cursor();
        w.seek(&mut all, 1);
        assert_eq!(drain(&mut all), (1..=214).collect::<Vec<_>>());
    }

    #[test]
    fn appends_keep_the_window_bounded() {
        let mut w = Writer::new(100);
        let mut slow = w.cursor();
        for i in 1..=1000 {
            w.append(i);
            assert!(w.kept >= 100.min(i as usize) && w.kept < 100 + MAX_BATCH);
        }
        assert!(slow.next().is_none(), "lapped");
        w.seek(&mut slow, 901);
        assert_eq!(drain(&mut slow), (901..=1000).collect::<Vec<_>>());
    }

    proptest::proptest! {
        /// The bound `BroadcasterBuilder::channel_capacity` documents for the ring itself,
        /// and that it keeps at least `capacity` items.
        #[test]
        fn the_window_holds_at_most_four_slots_per_kept_item(
            pattern in proptest::collection::vec(0..=MAX_BATCH, 1..8),
            capacity in 1..300_usize,
        ) {
            let mut w = Writer::<u64>::new(capacity);
            let mut published = 0;
            for &n in pattern.iter().cycle().take(400) {
                if n == 0 {
                    w.append(0_u64);
                    published += 1;
                } else {
                    w.push(vec![0; n]);
                    published += n;
                }
                let slots: usize = w.window.iter().map(|b| b.capacity()).sum();
                proptest::prop_assert!(slots <= 4 * capacity + 64, "{slots} slots");
                proptest::prop_assert!(w.kept >= capacity.min(published));
            }
        }
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
        let first = entry(w.push(vec![7_u64, 8]), 1);
        let (open, index) = w.append(9);
        let appended = entry(open, index);
        push(&mut w, 1..=100);
        assert_eq!(*appended, 9);
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
            // Batches of 1 to 7 items, each every third time appended item by item instead.
            let n = (i % 7 + 1).min(ITEMS - i + 1);
            let mut w = writer.lock().unwrap();
            if i % 3 == 0 {
                for item in i..i + n {
                    w.append(item);
                    tail.advance(w.last());
                }
            } else {
                w.push((i..i + n).collect());
                tail.advance(w.last());
            }
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
