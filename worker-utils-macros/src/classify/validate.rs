//! Checks of `#[derive(Classify)]`: every value gets a kind, `retry_after` names a real
//! field, and arguments sit where they apply.

use proc_macro2::{Ident, TokenStream};
use syn::spanned::Spanned as _;
use syn::{Data, DeriveInput, Fields, Member};

use super::parse::ClassifyArgs;
use crate::common::{Errors, Kind, backticked};

/// What the impl needs.
pub(crate) struct Plan {
    /// `<crate>::__private`.
    pub(crate) runtime: TokenStream,
    /// `None` if no impl can be generated.
    pub(crate) shape: Option<Shape>,
}

/// A struct's kind, or each variant's.
pub(crate) enum Shape {
    Struct { kind: Kind, retry_after: Option<Member> },
    Enum(Vec<VariantPlan>),
}

/// One enum variant.
pub(crate) struct VariantPlan {
    pub(crate) ident: Ident,
    pub(crate) kind: Kind,
    pub(crate) retry_after: Option<Member>,
}

/// Checks the input.
pub(crate) fn plan(input: &DeriveInput, errors: &mut Errors) -> Plan {
    let container = ClassifyArgs::from_attrs(&input.attrs, errors);
    let container_ok = errors.is_empty();
    let runtime = crate::common::runtime(container.krate.get());
    Plan { runtime, shape: shape(input, &container, container_ok, errors) }
}

/// The struct's kind or each variant's; `None` if one is missing or the type is a union.
fn shape(
    input: &DeriveInput,
    container: &ClassifyArgs,
    container_ok: bool,
    errors: &mut Errors,
) -> Option<Shape> {
    let shape = match &input.data {
        Data::Union(union) => {
            errors.at(
                union.union_token.span,
                "`Classify` cannot be derived for a union: derive it for an enum or a struct",
            );
            return None;
        }
        Data::Struct(data) => {
            no_field_attrs(&data.fields, errors);
            let retry_after = container
                .retry_after
                .get()
                .and_then(|m| member(m, &data.fields, "struct", &input.ident, errors));
            let Some(kind) = container.kind else {
                // A malformed attribute (`#[classify(transiant)]`) was reported already; its
                // kind may be what is missing.
                if container_ok {
                    errors.at(
                    input.ident.span(),
                    format!(
                        "`#[derive(Classify)]` on a struct needs its kind: add `#[classify(transient)]` (or one of {})",
                            backticked(&Kind::snakes())
                        ),
                    );
                }
                return None;
            };
            Shape::Struct { kind: kind.value, retry_after }
        }
        Data::Enum(data) => {
            if let Some(key) = container.retry_after.key() {
                errors.at(key.span(), "`retry_after` names a field, so it belongs on a variant: `#[classify(transient, retry_after = delay)]`");
            }
            let mut variants = Vec::new();
            for variant in &data.variants {
                no_field_attrs(&variant.fields, errors);
                let before = errors.count();
                let args = ClassifyArgs::from_attrs(&variant.attrs, errors);
                let attrs_ok = errors.count() == before;
                if let Some(key) = args.krate.key() {
                    errors.at(key.span(), "`crate` belongs on the type, not on a variant");
                }
                let retry_after = args
                    .retry_after
                    .get()
                    .and_then(|m| member(m, &variant.fields, "variant", &variant.ident, errors));
                match args.kind.or(container.kind) {
                    Some(kind) => variants.push(VariantPlan { ident: variant.ident.clone(), kind: kind.value, retry_after }),
                    // A malformed attribute was reported already; its kind may be what is missing.
                    None if !attrs_ok || !container_ok => {}
                    None => errors.at(
                        variant.ident.span(),
                        format!(
                            "variant `{}` has no kind: add `#[classify(transient)]` (or one of {}), or give the enum a default kind",
                            variant.ident,
                            backticked(&Kind::snakes())
                        ),
                    ),
                }
            }
            if variants.len() != data.variants.len() {
                return None;
            }
            Shape::Enum(variants)
        }
    };
    Some(shape)
}

/// `#[classify]` on a field is a mistake worth a pointer to the right place.
fn no_field_attrs(fields: &Fields, errors: &mut Errors) {
    for attr in fields.iter().flat_map(|f| &f.attrs).filter(|a| a.path().is_ident("classify")) {
        errors.at(attr.span(), "`#[classify]` goes on the type or the variant: mark a field with `#[classify(retry_after = field)]` there");
    }
}

/// Checks that `member` is one of `fields`.
fn member(
    member: &Member,
    fields: &Fields,
    what: &str,
    owner: &Ident,
    errors: &mut Errors,
) -> Option<Member> {
    let found = fields.iter().enumerate().any(|(index, field)| match (member, &field.ident) {
        (Member::Named(name), Some(ident)) => name == ident,
        (Member::Unnamed(i), None) => i.index as usize == index,
        _ => false,
    });
    if found {
        Some(member.clone())
    } else {
        let shown = match member {
            Member::Named(name) => name.to_string(),
            Member::Unnamed(i) => i.index.to_string(),
        };
        errors.at(member.span(), format!("`retry_after`: {what} `{owner}` has no field `{shown}`"));
        None
    }
}
