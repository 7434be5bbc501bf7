//! The naming rule that ties an action fn to its generated type.
//!
//! The type is the fn name in CamelCase: every `_`-separated segment gets its first letter
//! upper-cased and is kept as written otherwise (`fetch_image` → `FetchImage`,
//! `parse_v2_header` → `ParseV2Header`, `load_HTML` → `LoadHTML`). A macro that receives
//! a path to an action fn (`pipeline = [steps::fetch_image]`) reaches the type by applying
//! this rule to the last path segment (`steps::FetchImage`).

use proc_macro2::Ident;

/// The action type's name for the fn named `fn_ident`, spanned like it; an error, on the
/// fn name, when the rule gives no usable type name (`_1_step` → `1Step`, `__` → nothing,
/// `self_` → the keyword `Self`).
pub(crate) fn action_type(fn_ident: &Ident) -> syn::Result<Ident> {
    let fn_name = unraw(fn_ident);
    let type_name = camel_case(&fn_name);
    if syn::parse_str::<Ident>(&type_name).is_err() {
        let shown = if type_name.is_empty() { "nothing".to_owned() } else { format!("`{type_name}`") };
        return Err(syn::Error::new(
            fn_ident.span(),
            format!(
                "the action type of `{fn_name}` would be named {shown} (its name in CamelCase), which is not a \
                 usable type name: rename the fn so that it starts with a letter and is not a keyword"
            ),
        ));
    }
    Ok(Ident::new(&type_name, fn_ident.span()))
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
    fn names_without_a_usable_type_name_are_errors_not_panics() {
        use proc_macro2::{Ident, Span};
        for name in ["_1_step", "__", "self_"] {
            let ident = Ident::new(name, Span::call_site());
            let error = super::action_type(&ident).unwrap_err().to_string();
            assert!(error.contains("not a usable type name"), "{name}: {error}");
        }
        let ident = Ident::new("fetch_image", Span::call_site());
        assert_eq!(super::action_type(&ident).unwrap(), "FetchImage");
    }

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
