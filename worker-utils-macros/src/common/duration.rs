//! Compile-time durations: `"250ms"`, `"30s"`, `"2m"`, `"1h"`, or an integer of milliseconds.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::quote;
use syn::Lit;

use super::Spanned;

const FORMAT: &str = "expected an integer followed by a unit (`ms`, `s`, `m` or `h`), e.g. \"250ms\" or \"30s\", \
                      or an integer of milliseconds";

/// Parses a duration value for `key`.
pub(crate) fn parse(key: &str, tokens: &TokenStream) -> syn::Result<Spanned<Duration>> {
    let lit: Lit = syn::parse2(tokens.clone())
        .map_err(|_| syn::Error::new_spanned(tokens, format!("`{key}` expects a duration: {FORMAT}")))?;
    let span = lit.span();
    let value = match &lit {
        Lit::Str(s) => from_text(&s.value())
            .ok_or_else(|| syn::Error::new(span, format!("invalid duration {:?}: {FORMAT}", s.value())))?,
        Lit::Int(i) => {
            let millis = i.base10_parse::<u64>().map_err(|e| syn::Error::new(span, e))?;
            Duration::from_millis(millis)
        }
        _ => return Err(syn::Error::new(span, format!("`{key}` expects a duration: {FORMAT}"))),
    };
    Ok(Spanned { value, span })
}

/// `"250ms"` and friends; `None` if malformed or too large.
fn from_text(text: &str) -> Option<Duration> {
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let millis_per_unit = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    number.checked_mul(millis_per_unit).map(Duration::from_millis)
}

/// The expression building `duration`, as readable as the value allows.
pub(crate) fn to_tokens(duration: Duration) -> TokenStream {
    let nanos = duration.subsec_nanos();
    let secs = duration.as_secs();
    if nanos == 0 {
        quote!(::core::time::Duration::from_secs(#secs))
    } else if nanos.is_multiple_of(1_000_000) {
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        quote!(::core::time::Duration::from_millis(#millis))
    } else {
        quote!(::core::time::Duration::new(#secs, #nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(from_text("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(from_text("30s"), Some(Duration::from_secs(30)));
        assert_eq!(from_text("2m"), Some(Duration::from_secs(120)));
        assert_eq!(from_text("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(from_text("0s"), Some(Duration::ZERO));
    }

    #[test]
    fn malformed() {
        for bad in
            ["", "s", "30", "30 s", "1.5s", "-1s", "3d", "99999999999999999999ms", "18446744073709551615h"]
        {
            assert_eq!(from_text(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn tokens() {
        assert_eq!(
            to_tokens(Duration::from_secs(3)).to_string(),
            quote!(::core::time::Duration::from_secs(3u64)).to_string()
        );
        assert_eq!(
            to_tokens(Duration::from_millis(1500)).to_string(),
            quote!(::core::time::Duration::from_millis(1500u64)).to_string()
        );
    }
}
