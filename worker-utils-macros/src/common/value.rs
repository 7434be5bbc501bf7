//! Typed parsers for the value of a `key = value` item. Each error is spanned on the value
//! and shows an example of what was expected.

use proc_macro2::{Ident, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Lit, LitBool, LitStr, Path, Token};

use super::suggest::did_you_mean;
use super::{Spanned, backticked};

fn wrong(tokens: &TokenStream, key: &str, expected: &str, example: &str) -> syn::Error {
    syn::Error::new_spanned(tokens, format!("`{key}` expects {expected}, e.g. `{key} = {example}`"))
}

/// An unsigned integer.
pub(crate) fn u32_(key: &str, tokens: &TokenStream, example: &str) -> syn::Result<Spanned<u32>> {
    int(key, tokens, example)
}

/// An integer of type `T`; a literal that does not fit is syn's error on it.
pub(crate) fn int<T>(key: &str, tokens: &TokenStream, example: &str) -> syn::Result<Spanned<T>>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match syn::parse2::<Lit>(tokens.clone()) {
        Ok(Lit::Int(int)) => {
            let value = int.base10_parse::<T>().map_err(|e| syn::Error::new(int.span(), e))?;
            Ok(Spanned { value, span: int.span() })
        }
        _ => Err(wrong(tokens, key, "an integer", example)),
    }
}

/// A number (`2.0` or `2`).
pub(crate) fn f64_(key: &str, tokens: &TokenStream, example: &str) -> syn::Result<Spanned<f64>> {
    let value = match syn::parse2::<Lit>(tokens.clone()) {
        Ok(Lit::Float(float)) => {
            float.base10_parse::<f64>().map(|v| Spanned { value: v, span: float.span() })
        }
        Ok(Lit::Int(int)) => int.base10_parse::<f64>().map(|v| Spanned { value: v, span: int.span() }),
        _ => return Err(wrong(tokens, key, "a number", example)),
    };
    value.map_err(|e| syn::Error::new_spanned(tokens, e))
}

/// A string literal.
pub(crate) fn str_(key: &str, tokens: &TokenStream, example: &str) -> syn::Result<LitStr> {
    syn::parse2::<LitStr>(tokens.clone()).map_err(|_| wrong(tokens, key, "a string literal", example))
}

/// The `crate = "my_crate::worker_utils"` override: a string literal holding a path.
pub(crate) fn crate_path(tokens: &TokenStream) -> syn::Result<Path> {
    let lit = str_("crate", tokens, "\"my_crate::worker_utils\"")?;
    lit.parse::<Path>().map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!("`crate` expects a path such as \"my_crate::worker_utils\", not {:?}", lit.value()),
        )
    })
}

/// A path such as `my_mod::my_fn`; `expected` says to what ("a path to a function").
pub(crate) fn path(key: &str, tokens: &TokenStream, expected: &str, example: &str) -> syn::Result<Path> {
    syn::parse2::<Path>(tokens.clone()).map_err(|_| wrong(tokens, key, expected, example))
}

/// `false`, which turns a setting off (`None`), or what `parse` accepts. `true` is an error:
/// it names no value.
pub(crate) fn off_or<T>(
    key: &str,
    tokens: &TokenStream,
    example: &str,
    parse: impl FnOnce(&TokenStream) -> syn::Result<T>,
) -> syn::Result<Option<T>> {
    match syn::parse2::<LitBool>(tokens.clone()) {
        Ok(off) if !off.value => Ok(None),
        Ok(on) => Err(syn::Error::new(
            on.span,
            format!(
                "`{key} = true` names no value: write `{key} = {example}`, or `{key} = false` to turn it off"
            ),
        )),
        Err(_) => parse(tokens).map(Some),
    }
}

/// One of `choices`, written as an identifier or a string (`fixed`, `"fixed"`). `true` and
/// `false` count as the words `true` and `false` when `choices` has them.
pub(crate) fn choice(key: &str, tokens: &TokenStream, choices: &[&str]) -> syn::Result<Spanned<String>> {
    let (word, span) = if let Ok(ident) = syn::parse2::<Ident>(tokens.clone()) {
        (ident.to_string(), ident.span())
    } else {
        match syn::parse2::<Lit>(tokens.clone()) {
            Ok(Lit::Str(s)) => (s.value(), s.span()),
            Ok(Lit::Bool(b)) if choices.contains(&"true") => (b.value.to_string(), b.span),
            _ => {
                return Err(syn::Error::new_spanned(
                    tokens,
                    format!("`{key}` expects one of: {}", backticked(choices)),
                ));
            }
        }
    };
    if choices.contains(&word.as_str()) {
        Ok(Spanned { value: word, span })
    } else {
        Err(syn::Error::new(
            span,
            format!(
                "unknown `{key}` value `{word}`; {}expected one of: {}",
                did_you_mean(&word, choices),
                backticked(choices)
            ),
        ))
    }
}

/// The value of the `(word, value)` entry of `table` whose word is written, as [`choice`]
/// reads it: one table is both the words a key accepts and what each means, so a word
/// cannot parse without meaning something.
pub(crate) fn one_of<T: Copy>(
    key: &str,
    tokens: &TokenStream,
    table: &[(&str, T)],
) -> syn::Result<Spanned<T>> {
    let words: Vec<&str> = table.iter().map(|(word, _)| *word).collect();
    let word = choice(key, tokens, &words)?;
    match table.iter().find(|(entry, _)| *entry == word.value) {
        Some((_, value)) => Ok(Spanned { value: *value, span: word.span }),
        None => Err(syn::Error::new(word.span, format!("`{key}` cannot be `{}`", word.value))),
    }
}

/// A bracketed list of identifiers: `[Transient, System]`.
pub(crate) fn ident_list(key: &str, tokens: &TokenStream, example: &str) -> syn::Result<Vec<Ident>> {
    let parser = |input: ParseStream<'_>| {
        let content;
        syn::bracketed!(content in input);
        let list = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
        Ok(list.into_iter().collect::<Vec<_>>())
    };
    parser.parse2(tokens.clone()).map_err(|_| wrong(tokens, key, "a list of error kinds", example))
}
