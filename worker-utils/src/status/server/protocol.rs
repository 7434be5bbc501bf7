//! The client-facing messages: subscribe filters in, control messages out.

use std::collections::HashSet;

use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::context::JobId;
use crate::status::StatusEvent;

/// The most queues, and the most job ids, one subscription may name.
pub(crate) const MAX_FILTER_ENTRIES: usize = 256;

/// Which events a client wants: all (no lists), or those whose queue is listed or whose job
/// id is listed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    queues: HashSet<Box<str>>,
    job_ids: HashSet<JobId>,
}

impl Filter {
    pub(crate) fn new(
        queues: impl IntoIterator<Item = String>,
        job_ids: impl IntoIterator<Item = JobId>,
    ) -> Result<Self, ProtocolError> {
        let queues: HashSet<Box<str>> = queues.into_iter().map(String::into_boxed_str).collect();
        let job_ids: HashSet<JobId> = job_ids.into_iter().collect();
        if queues.len() > MAX_FILTER_ENTRIES || job_ids.len() > MAX_FILTER_ENTRIES {
            return Err(ProtocolError::new(
                "too_many_entries",
                format!(
                    "a subscription names at most {MAX_FILTER_ENTRIES} queues and {MAX_FILTER_ENTRIES} job ids"
                ),
            ));
        }
        Ok(Self { queues, job_ids })
    }

    pub(crate) fn is_everything(&self) -> bool {
        self.queues.is_empty() && self.job_ids.is_empty()
    }

    /// Whether a client with this filter gets the alerts of `queue`: job ids select no alert.
    pub(crate) fn matches_queue(&self, queue: &str) -> bool {
        self.is_everything() || self.queues.contains(queue)
    }

    pub(crate) fn matches(&self, event: &StatusEvent) -> bool {
        self.is_everything() || self.queues.contains(&*event.queue) || self.job_ids.contains(&event.job_id)
    }
}

/// What a client asks for in its `/ws` query string: `queues=a,b&job_ids=1,2` (its filter)
/// and `batch=1` (several messages per text frame). Other keys, such as `token`, are ignored.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct FeedQuery {
    pub(crate) filter: Filter,
    /// Each text frame carries a JSON array of messages instead of one message: a browser
    /// spends most of its time per event on the frame, not on the JSON (dispatching one
    /// `message` event each), so a page can read many more events a second this way.
    pub(crate) batched: bool,
}

impl FeedQuery {
    pub(crate) fn parse(query: &str) -> Result<Self, ProtocolError> {
        let mut queues = Vec::new();
        let mut job_ids = Vec::new();
        let mut batched = false;
        for (key, value) in query_pairs(query) {
            let bad =
                || ProtocolError::new("invalid_query", format!("`{key}` is not percent-encoded correctly"));
            match key {
                "queues" => {
                    let value = percent_decode(value).ok_or_else(bad)?;
                    queues.extend(value.split(',').filter(|q| !q.is_empty()).map(str::to_owned));
                }
                "job_ids" => {
                    let value = percent_decode(value).ok_or_else(bad)?;
                    for id in value.split(',').filter(|id| !id.is_empty()) {
                        let id = id.parse::<u64>().map_err(|_| {
                            ProtocolError::new("invalid_query", "`job_ids` must be comma-separated integers")
                        })?;
                        job_ids.push(JobId::new(id));
                    }
                }
                "batch" => {
                    batched = match value {
                        "1" => true,
                        "0" => false,
                        _ => return Err(ProtocolError::new("invalid_query", "`batch` must be 0 or 1")),
                    };
                }
                _ => {}
            }
        }
        Ok(Self { filter: Filter::new(queues, job_ids)?, batched })
    }
}

/// Splits a query string into `(key, raw value)` pairs.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query.split('&').filter(|pair| !pair.is_empty()).map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// Decodes `%XX` escapes (RFC 3986; `+` stays a plus). `None` on a bad escape or non-UTF-8.
pub(crate) fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What a client may send.
#[derive(Debug, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Inbound {
    /// Replace the filter; the server answers `subscribed`, a filtered snapshot, `ready`.
    Subscribe {
        #[serde(default)]
        queues: Vec<String>,
        #[serde(default)]
        job_ids: Vec<JobId>,
    },
}

impl Inbound {
    pub(crate) fn parse(text: &str) -> Result<Self, ProtocolError> {
        serde_json::from_str(text).map_err(|error| {
            let mut message = error.to_string();
            if message.len() > 200 {
                let mut cut = 200;
                while !message.is_char_boundary(cut) {
                    cut -= 1;
                }
                message.truncate(cut);
            }
            ProtocolError::new("invalid_message", message)
        })
    }
}

/// A client message the server refused; sent back as `{"type":"error",…}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProtocolError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ProtocolError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub(crate) fn to_message(&self) -> Utf8Bytes {
        json(&serde_json::json!({ "type": "error", "code": self.code, "message": self.message }))
    }
}

/// `{"type":"ready","seq":S,"snapshot":N}`: the snapshot (N events) is complete; every event
/// that follows is live and has a sequence number above S.
pub(crate) fn ready(seq: u64, snapshot: usize) -> Utf8Bytes {
    Utf8Bytes::from(format!(r#"{{"type":"ready","seq":{seq},"snapshot":{snapshot}}}"#))
}

/// `{"type":"lagged","missed":N}`: N events were skipped because the client fell behind.
pub(crate) fn lagged(missed: u64) -> Utf8Bytes {
    Utf8Bytes::from(format!(r#"{{"type":"lagged","missed":{missed}}}"#))
}

/// `{"type":"subscribed","queues":[…],"job_ids":[…]}`, lists sorted.
pub(crate) fn subscribed(filter: &Filter) -> Utf8Bytes {
    let mut queues: Vec<&str> = filter.queues.iter().map(|q| &**q).collect();
    queues.sort_unstable();
    let mut job_ids: Vec<JobId> = filter.job_ids.iter().copied().collect();
    job_ids.sort_unstable();
    json(&serde_json::json!({ "type": "subscribed", "queues": queues, "job_ids": job_ids }))
}

fn json(value: &serde_json::Value) -> Utf8Bytes {
    Utf8Bytes::from(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::JobStatus;

    #[test]
    fn empty_filter_matches_everything_and_lists_match_either() {
        let event = StatusEvent::new(JobId::new(5), "mail", JobStatus::Pending);
        assert!(Filter::default().matches(&event));
        assert!(Filter::new(["mail".to_owned()], []).unwrap().matches(&event));
        assert!(Filter::new(["other".to_owned()], [JobId::new(5)]).unwrap().matches(&event));
        assert!(!Filter::new(["other".to_owned()], [JobId::new(6)]).unwrap().matches(&event));
    }

    #[test]
    fn the_query_is_percent_decoded_and_batch_is_0_or_1() {
        let q = FeedQuery::parse("token=x&queues=a%2Cb,c&job_ids=1,2").unwrap();
        assert_eq!(
            q,
            FeedQuery {
                filter: Filter::new(["a".into(), "b".into(), "c".into()], [JobId::new(1), JobId::new(2)])
                    .unwrap(),
                batched: false,
            }
        );
        assert_eq!(FeedQuery::parse("job_ids=x").unwrap_err().code, "invalid_query");
        assert_eq!(FeedQuery::parse("queues=%zz").unwrap_err().code, "invalid_query");
        assert!(FeedQuery::parse("batch=1").unwrap().batched);
        assert!(!FeedQuery::parse("batch=0").unwrap().batched);
        let error = FeedQuery::parse("queues=a&batch=yes").unwrap_err();
        assert_eq!((error.code, error.message.as_str()), ("invalid_query", "`batch` must be 0 or 1"));
    }

    #[test]
    fn inbound_subscribe_parses_and_rejects() {
        let Inbound::Subscribe { queues, job_ids } =
            Inbound::parse(r#"{"type":"subscribe","queues":["a"],"job_ids":[3]}"#).unwrap();
        assert_eq!((queues, job_ids), (vec!["a".to_owned()], vec![JobId::new(3)]));
        assert_eq!(Inbound::parse("{not json").unwrap_err().code, "invalid_message");
        assert_eq!(Inbound::parse(r#"{"type":"unsubscribe"}"#).unwrap_err().code, "invalid_message");
        let many: Vec<u64> = (0..300).collect();
        let err = Filter::new([], many.into_iter().map(JobId::new)).unwrap_err();
        assert_eq!(err.code, "too_many_entries");
    }
}
