//! The names of a queue's Redis keys.
//!
//! Every key of queue `q` starts with `wu:{q}:`: the hash tag `{q}` puts them all in one
//! Redis Cluster slot, so that each script touches one node.

/// A queue's keys; the per-job keys are built from [`prefix`](Self::prefix) inside the
/// scripts (`<prefix>j:<id>`, `<prefix>idem:<key>`).
#[derive(Debug, Clone)]
pub(super) struct Keys {
    pub(super) prefix: String,
    pub(super) id: String,
    pub(super) ready: String,
    pub(super) delayed: String,
    pub(super) leased: String,
    pub(super) dead: String,
    pub(super) evicted: String,
    pub(super) marker: String,
    pub(super) status: String,
}

impl Keys {
    pub(super) fn new(namespace: &str, queue: &str) -> Self {
        let prefix = format!("{namespace}:{{{queue}}}:");
        let key = |name: &str| format!("{prefix}{name}");
        Self {
            id: key("id"),
            ready: key("ready"),
            delayed: key("delayed"),
            leased: key("leased"),
            dead: key("dead"),
            evicted: key("dead:evicted"),
            marker: key("marker"),
            status: crate::status::redis_stream_key(namespace, queue),
            prefix,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_shares_the_hash_tag() {
        let keys = Keys::new("wu", "thumbnails");
        assert_eq!(keys.ready, "wu:{thumbnails}:ready");
        for key in
            [&keys.id, &keys.delayed, &keys.leased, &keys.dead, &keys.evicted, &keys.marker, &keys.status]
        {
            assert!(key.starts_with("wu:{thumbnails}:"), "{key}");
        }
    }
}
