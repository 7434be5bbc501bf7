//! "Did you mean": the valid name closest to a misspelt one, so an error about
//! `max_atempts` can name `max_attempts` instead of leaving the user to search a list.

/// The name among `valid` that `word` most likely misspells, if any is close enough.
///
/// Names are compared without case, `_` or `-` (so `maxAttempts` finds `max_attempts`).
/// A name is close when the Damerau-Levenshtein distance is at most a third of its length
/// (at least 1), rustc's own rule for its suggestions, or when the Jaro-Winkler similarity
/// is at least 0.9, which also catches a name cut short (`consecutive` →
/// `consecutive_failures`).
/// The nearest wins; on a tie, the first in `valid`.
pub(crate) fn closest<'a>(word: &str, valid: &[&'a str]) -> Option<&'a str> {
    let word = fold(word);
    valid
        .iter()
        .map(|&candidate| {
            let folded = fold(candidate);
            let distance = strsim::damerau_levenshtein(&word, &folded);
            (distance, strsim::jaro_winkler(&word, &folded), candidate)
        })
        .filter(|&(distance, similarity, candidate)| {
            distance <= candidate.len().max(3) / 3 || similarity >= 0.9
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, candidate)| candidate)
}

/// "did you mean `max_attempts`? " when one of `valid` is close to `word`, else nothing: the
/// part of an "unknown …" message before the list of valid names.
pub(crate) fn did_you_mean(word: &str, valid: &[&str]) -> String {
    closest(word, valid).map(|name| format!("did you mean `{name}`? ")).unwrap_or_default()
}

/// Lower case, without `_` and `-`.
fn fold(name: &str) -> String {
    name.chars().filter(|c| !matches!(c, '_' | '-')).flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::closest;

    const RETRY: &[&str] =
        &["max_attempts", "base_delay", "max_delay", "backoff", "factor", "jitter", "on", "when", "budget"];

    #[test]
    fn a_typo_finds_its_key() {
        assert_eq!(closest("max_atempts", RETRY), Some("max_attempts"));
        assert_eq!(closest("maxAttempts", RETRY), Some("max_attempts"));
        assert_eq!(closest("base_dealy", RETRY), Some("base_delay"));
        assert_eq!(closest("jiter", RETRY), Some("jitter"));
        assert_eq!(closest("no", RETRY), Some("on"));
        assert_eq!(closest("pipline", &["queue", "deps", "pipeline"]), Some("pipeline"));
        assert_eq!(closest("consecutive", &["consecutive_failures", "window"]), Some("consecutive_failures"));
    }

    #[test]
    fn an_unrelated_word_finds_nothing() {
        assert_eq!(closest("retries", RETRY), None);
        assert_eq!(closest("delay", &["when", "on"]), None);
        assert_eq!(closest("flaky", &["transient", "permanent", "system", "business_logic"]), None);
    }

    #[test]
    fn the_nearest_wins() {
        assert_eq!(closest("max_dealy", RETRY), Some("max_delay"));
        assert_eq!(closest("slow_calls", &["slow_call_ratio", "slow_call"]), Some("slow_call"));
    }
}
