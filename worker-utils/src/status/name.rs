//! [`Name`]: the queue and worker names a [`StatusEvent`](super::StatusEvent) carries.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

use arcstr::ArcStr;

/// A queue's or a worker's name in a [`StatusEvent`](super::StatusEvent): a `str`, compared,
/// hashed, printed and serialized as one.
///
/// Why not `Arc<str>`: a runner and an in-memory queue intern their names once, when they
/// are built, and the events they publish then share them without reference counting. As
/// `Arc<str>`, the two names cost four atomic reference-count operations per job (a clone
/// for each event, a drop when the ring forgets it), often on the other core's cache line:
/// 4 % of a no-op job's time with status on (BENCHMARKS.md §18). It is also one pointer
/// (`arcstr`'s thin string), not two, so an event is 16 bytes smaller. Names made any other
/// way (`From<&str>`, `From<String>`, a client parsing events) are reference-counted and
/// freed with their last event, so a process never keeps the names it only reads.
///
/// ```
/// use worker_utils::status::Name;
///
/// let name = Name::from("images");
/// assert_eq!(name, "images");
/// assert!(name.starts_with("im")); // a `str`
/// assert_eq!(serde_json::to_string(&name).unwrap(), "\"images\"");
/// assert_eq!(Name::default(), "");
/// ```
#[derive(Clone, Default)]
pub struct Name(ArcStr);

impl Name {
    /// `name`, interned: kept, once per distinct name, for the life of the process, and
    /// shared without reference counting. Only for the names of what the process itself
    /// builds (its queues and runners, a bounded set), never for names read from outside.
    pub(crate) fn interned(name: &str) -> Self {
        static NAMES: Mutex<BTreeSet<ArcStr>> = Mutex::new(BTreeSet::new());
        let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(kept) = names.get(name) {
            return Self(kept.clone());
        }
        let kept = ArcStr::from(name);
        // From now on `kept` and its clones skip the reference count.
        let _: &'static str = kept.leak();
        names.insert(kept.clone());
        Self(kept)
    }

    /// The name.
    ///
    /// ```
    /// use worker_utils::status::Name;
    /// assert_eq!(Name::from(String::from("mail")).as_str(), "mail");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Self {
        Self(ArcStr::from(name))
    }
}

impl From<&String> for Name {
    fn from(name: &String) -> Self {
        Self::from(name.as_str())
    }
}

impl From<String> for Name {
    fn from(name: String) -> Self {
        Self::from(name.as_str())
    }
}

impl From<Box<str>> for Name {
    fn from(name: Box<str>) -> Self {
        Self::from(&*name)
    }
}

impl From<Arc<str>> for Name {
    fn from(name: Arc<str>) -> Self {
        Self::from(&*name)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Name {
    /// As the `str`, which [`Borrow<str>`] requires: a map keyed by names looks up by `&str`.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <std::borrow::Cow<'de, str>>::deserialize(deserializer).map(|name| Self::from(&*name))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn interning_keeps_one_copy_per_distinct_name_and_skips_counting() {
        let (a, b) = (Name::interned("name-test-queue"), Name::interned(&String::from("name-test-queue")));
        assert!(ArcStr::is_static(&a.0) && ArcStr::is_static(&b.0));
        assert!(std::ptr::eq(a.as_str(), b.as_str()), "the second interning reuses the first copy");
        assert!(!std::ptr::eq(a.as_str(), Name::interned("name-test-other").as_str()));
    }

    #[test]
    fn names_from_outside_are_counted_not_interned() {
        let name = Name::from("mail");
        assert!(!ArcStr::is_static(&name.0));
        assert_eq!(ArcStr::strong_count(&name.0), Some(1));
        let copy = name.clone();
        assert_eq!(ArcStr::strong_count(&copy.0), Some(2));
        drop(name);
        assert_eq!(ArcStr::strong_count(&copy.0), Some(1), "freed with the last one");
        assert!(!ArcStr::is_static(&serde_json::from_str::<Name>("\"mail\"").unwrap().0));
    }

    #[test]
    fn an_interned_and_a_counted_name_are_the_same_name() {
        let (interned, counted) = (Name::interned("images"), Name::from("images"));
        assert_eq!(interned, counted);
        assert_eq!(interned.cmp(&counted), Ordering::Equal);
        let mut by_name = HashMap::new();
        by_name.insert(interned, 1);
        assert_eq!(by_name.get(&counted), Some(&1));
        assert_eq!(by_name.get("images"), Some(&1), "looked up by &str");
        assert_eq!(format!("{counted} {counted:?}"), "images \"images\"");
    }

    #[test]
    fn a_name_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Name>(), std::mem::size_of::<usize>());
    }
}
