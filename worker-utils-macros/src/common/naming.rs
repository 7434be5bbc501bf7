//! The naming rule that ties an action fn to its generated type.
//!
//! The type is the fn name in CamelCase: every `_`-separated segment gets its first letter
//! upper-cased and is kept as written otherwise (`fetch_image` → `FetchImage`,
//! `parse_v2_header` → `ParseV2Header`, `load_HTML` → `LoadHTML`). A macro that receives
//! a path to an action fn (`pipeline = [steps::fetch_image]`) reaches the type by applying
//! this rule to the last path segment (`steps::FetchImage`).

use proc_macro2::Ident;

/// The action type's name for the fn named `fn_ident`, spanned like it.
pub(crate) fn action_type(fn_ident: &Ident) -> Ident {
    Ident::new(&camel_case(&unraw(fn_ident)), fn_ident.span())
}

/// The identifier without a raw prefix (`r#type` → `type`).
pub(crate) fn unraw(ident: &Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").map(str::to_owned).unwrap_or(text)
}

/// `fetch_image` → `FetchImage`.
pub(crate) fn camel_case(snake: &str) -> String {
    snake
        .split('_')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let mut chars = segment.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::camel_case;

    #[test]
    fn camel_case_rule() {
        assert_eq!(camel_case("fetch_image"), "FetchImage");
        assert_eq!(camel_case("parse_v2_header"), "ParseV2Header");
        assert_eq!(camel_case("load_HTML"), "LoadHTML");
        assert_eq!(camel_case("_private__step_"), "PrivateStep");
        assert_eq!(camel_case("run"), "Run");
        assert_eq!(camel_case("type"), "Type");
    }
}
