//! The bounded broadcast ring behind the broadcaster: one writer (under the broadcaster's
//! lock), any number of readers that never take a lock the writer holds.
//!
//! Items live in fixed-size segments of write-once cells. The writer fills the open
//! segment cell by cell and links a fresh segment when it is full; a reader holds the
//! segment it reads and sees an item as soon as its cell is set, so reading is a load per
//! item and a reference-count bump per segment. The writer keeps the last `capacity`
//! items (plus the open segment) reachable; a reader that falls further behind than that
//! is moved forward and told how many items it missed. Publishing is announced through an
//! atomic tail, and a parked waiter is woken only when it said it is parked, so a write
//! with nobody waiting costs no wake-up.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use tokio::sync::Notify;

/// Items per segment at most: one allocation and one reference-count bump per reader per
/// this many items.
const SEGMENT: usize = 64;

pub(crate) struct Segment<T> {
    /// Sequence number of `cells[0]`.
    first: u64,
    cells: Box<[OnceLock<T>]>,
    /// Set when the writer opens the following segment; dangling once the writer dropped it.
    next: OnceLock<Weak<Segment<T>>>,
}

impl<T> Segment<T> {
    fn new(first: u64, len: usize) -> Arc<Self> {
        Arc::new(Self { first, cells: (0..len).map(|_| OnceLock::new()).collect(), next: OnceLock::new() })
    }

    fn end(&self) -> u64 {
        self.first + self.cells.len() as u64
    }
}

/// A published item, shared: keeps its segment alive.
pub(crate) struct Entry<T> {
    segment: Arc<Segment<T>>,
    index: usize,
}

impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Self { segment: Arc::clone(&self.segment), index: self.index }
    }
}

impl<T> Entry<T> {
    pub(crate) fn as_item(&self) -> Item<'_, T> {
        Item { segment: &self.segment, index: self.index }
    }
}

impl<T> Deref for Entry<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.as_item().get()
    }
}

/// A published item borrowed from a reader's segment; [`Item::to_entry`] keeps it.
pub(crate) struct Item<'a, T> {
    segment: &'a Arc<Segment<T>>,
    index: usize,
}

impl<T> Clone for Item<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Item<'_, T> {}

impl<'a, T> Item<'a, T> {
    pub(crate) fn get(self) -> &'a T {
        // Items and entries are only made for cells that are set, and a set cell stays set.
        self.segment.cells[self.index].get().expect("an item points at a published cell")
    }

    pub(crate) fn to_entry(self) -> Entry<T> {
        Entry { segment: Arc::clone(self.segment), index: self.index }
    }
}

/// The writer's side; lives under the broadcaster's lock.
pub(crate) struct Writer<T> {
    open: Arc<Segment<T>>,
    /// Segments kept reachable, oldest first; the last one is `open`.
    window: VecDeque<Arc<Segment<T>>>,
    max_segments: usize,
    segment_len: usize,
    /// Sequence number of the next item.
    next: u64,
}

impl<T> Writer<T> {
    /// A writer whose readers may fall `capacity` items behind (`capacity >= 1`); the
    /// first item gets sequence number 1.
    pub(crate) fn new(capacity: usize) -> Self {
        let segment_len = capacity.clamp(1, SEGMENT);
        // Enough full segments for `capacity` items, plus the open one.
        let max_segments = capacity.div_ceil(segment_len) + 1;
        let open = Segment::new(1, segment_len);
        Self { window: VecDeque::from([Arc::clone(&open)]), open, max_segments, segment_len, next: 1 }
    }

    /// Publishes `item` as the next sequence number. Readers see it at once; the
    /// [`Tail`] is the caller's to advance (once per batch).
    pub(crate) fn push(&mut self, item: T) -> Entry<T> {
        let index = (self.next - self.open.first) as usize;
        // The cell is fresh: only the writer sets cells, each once.
        let _ = self.open.cells[index].set(item);
        self.next += 1;
        let entry = Entry { segment: Arc::clone(&self.open), index };
        if self.next == self.open.end() {
            self.roll();
        }
        entry
    }

    /// Opens the next segment, so that the segment holding `next` always exists.
    fn roll(&mut self) {
        let open = Segment::new(self.next, self.segment_len);
        let _ = self.open.next.set(Arc::downgrade(&open));
        self.window.push_back(Arc::clone(&open));
        self.open = open;
        if self.window.len() > self.max_segments {
            self.window.pop_front();
        }
    }

    /// Sequence number of the last item (0 before the first).
    pub(crate) fn last(&self) -> u64 {
        self.next - 1
    }

    /// A reader that starts with the next item.
    pub(crate) fn cursor(&self) -> Cursor<T> {
        Cursor { segment: Arc::clone(&self.open), next: self.next }
    }

    /// Moves `cursor` to item `seq`, or to the oldest item still kept if `seq` is gone.
    pub(crate) fn seek(&self, cursor: &mut Cursor<T>, seq: u64) {
        let oldest = &self.window[0];
        let seq = seq.clamp(oldest.first, self.next);
        let index = ((seq - oldest.first) / self.segment_len as u64) as usize;
        cursor.segment = Arc::clone(&self.window[index]);
        cursor.next = seq;
    }
}

impl<T> fmt::Debug for Writer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer").field("next", &self.next).field("segments", &self.window.len()).finish()
    }
}

/// One reader's position.
pub(crate) struct Cursor<T> {
    segment: Arc<Segment<T>>,
    /// Sequence number of the next item to read.
    next: u64,
}

impl<T> Cursor<T> {
    /// Sequence number of the next item to read.
    pub(crate) fn position(&self) -> u64 {
        self.next
    }

    /// The next item, if it is published and still reachable. `None` with a tail at or
    /// beyond [`position`](Self::position) means the reader was lapped.
    pub(crate) fn next(&mut self) -> Option<Item<'_, T>> {
        if self.next == self.segment.end() {
            let following = self.segment.next.get()?.upgrade()?;
            self.segment = following;
        }
        let index = (self.next - self.segment.first) as usize;
        self.segment.cells[index].get()?;
        self.next += 1;
        Some(Item { segment: &self.segment, index })
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

    #[test]
    fn readers_see_every_item_across_segments() {
        let mut w = Writer::new(200);
        let mut early = w.cursor();
        for i in 1..=150 {
            w.push(i);
        }
        let mut late = w.cursor();
        assert_eq!(drain(&mut early), (1..=150).collect::<Vec<_>>());
        assert!(drain(&mut late).is_empty());
        for i in 151..=300 {
            w.push(i);
        }
        assert_eq!(drain(&mut late), (151..=300).collect::<Vec<_>>());
        assert_eq!(drain(&mut early), (151..=300).collect::<Vec<_>>());
        assert_eq!((w.last(), early.position()), (300, 301));
    }

    #[test]
    fn memory_stays_bounded_and_a_lapped_reader_is_moved_to_the_oldest_kept_item() {
        let mut w = Writer::new(16);
        let mut slow = w.cursor();
        // Wraps around the window many times.
        for i in 1..=1000 {
            w.push(i);
        }
        assert!(w.window.len() <= w.max_segments);
        // The slow reader still holds its first segment (all of it is readable) ...
        assert_eq!(drain(&mut slow), (1..=16).collect::<Vec<_>>());
        // ... but the next one is gone: lapped.
        assert!(slow.next().is_none());
        assert!(w.last() >= slow.position());
        w.seek(&mut slow, w.last() + 1 - 16);
        assert_eq!(drain(&mut slow), (985..=1000).collect::<Vec<_>>());
        // A seek to a forgotten item lands on the oldest kept one (the window's first
        // segment, a little more than `capacity` behind).
        w.seek(&mut slow, 1);
        assert_eq!(drain(&mut slow).first(), Some(&977));
    }

    #[test]
    fn entries_outlive_the_window() {
        let mut w = Writer::new(4);
        let first = w.push(7_u64);
        for i in 0..100 {
            w.push(i);
        }
        assert_eq!(*first, 7);
        assert_eq!(*first.clone(), 7);
    }

    #[test]
    fn concurrent_writer_and_readers_see_items_in_order_without_gaps_unless_lapped() {
        const ITEMS: u64 = 20_000;
        let writer = Arc::new(std::sync::Mutex::new(Writer::new(256)));
        let tail = Arc::new(Tail::new());
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let mut cursor = writer.lock().unwrap().cursor();
                let (writer, tail) = (Arc::clone(&writer), Arc::clone(&tail));
                std::thread::spawn(move || {
                    let (mut last, mut missed) = (0_u64, 0_u64);
                    let mut spins = 0_u64;
                    while last < ITEMS {
                        spins += 1;
                        assert!(spins < 50_000_000, "reader made no progress");
                        let seen = tail.get();
                        if seen.saturating_sub(cursor.position() - 1) > 256 {
                            let before = cursor.position();
                            writer.lock().unwrap().seek(&mut cursor, seen + 1 - 256);
                            missed += cursor.position() - before;
                        }
                        while let Some(item) = cursor.next() {
                            let value = *item.get();
                            assert!(value > last, "items arrive in order, without repeats");
                            last = value;
                        }
                    }
                    (last, missed)
                })
            })
            .collect();
        for i in 1..=ITEMS {
            let mut w = writer.lock().unwrap();
            w.push(i);
            tail.advance(w.last());
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
        assert!(!tail.parked.0.load(Ordering::SeqCst));
    }
}
