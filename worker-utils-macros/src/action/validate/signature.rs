//! The fn's signature: what `#[action]` accepts as an action fn, and the [`Signature`] the
//! expansion reads (its input, deps and context parameters, its return type).

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned as _;
use syn::{FnArg, ItemFn, ReturnType, Type, Visibility};

use crate::common::{Errors, naming};

/// What the fn looks like, as far as the generated code cares.
pub(crate) struct Signature {
    /// The fn's name.
    pub(crate) fn_ident: syn::Ident,
    /// The generated type's name (see [`naming`]).
    pub(crate) type_ident: syn::Ident,
    /// The fn's visibility, given to the type as well.
    pub(crate) vis: Visibility,
    /// The first parameter's type.
    pub(crate) input: Type,
    /// `D` of a `deps: &D` parameter.
    pub(crate) deps: Option<Type>,
    /// The fn's parameters in order.
    pub(crate) params: Vec<Role>,
    /// The return type.
    /// The fn's return type: `Result<T, E>` or an alias of it (`io::Result<T>`), which the
    /// runtime's `Outcome` trait takes apart.
    pub(crate) output: Box<Type>,
}

/// What a parameter is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Input,
    Deps,
    Ctx,
}

/// Checks the signature; `None` if the type cannot be generated.
pub(crate) fn signature(func: &ItemFn, errors: &mut Errors) -> Option<Signature> {
    let sig = &func.sig;
    let mut ok = true;
    let mut fail = |errors: &mut Errors, span: Span, message: &str| {
        errors.at(span, message);
        ok = false;
    };
    if sig.asyncness.is_none() {
        fail(errors, sig.fn_token.span, "`#[action]` needs an `async fn`: add `async` before `fn`");
    }
    if let Some(unsafety) = sig.unsafety {
        fail(
            errors,
            unsafety.span,
            "`#[action]` does not support `unsafe fn`: the action calls the fn from safe code",
        );
    }
    if let Some(abi) = &sig.abi {
        fail(errors, abi.span(), "`#[action]` does not support `extern` fns");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let span = if sig.generics.params.is_empty() {
            sig.generics.where_clause.span()
        } else {
            sig.generics.span()
        };
        fail(
            errors,
            span,
            "`#[action]` does not support generic fns: an action has one input and one output type; \
             leave out the `deps` parameter to accept any deps type",
        );
    }
    let type_ident = match naming::action_type(&sig.ident) {
        Ok(type_ident) => type_ident,
        Err(error) => {
            errors.push(error);
            return None;
        }
    };
    if type_ident == naming::unraw(&sig.ident) {
        fail(
            errors,
            sig.ident.span(),
            &format!(
                "name the action fn in snake_case: its type is named `{type_ident}` by converting the fn name to CamelCase"
            ),
        );
    }

    let mut input = None;
    let mut deps = None;
    let mut params = Vec::new();
    let mut has_ctx = false;
    for (index, arg) in sig.inputs.iter().enumerate() {
        let ty = match arg {
            FnArg::Receiver(receiver) => {
                fail(
                    errors,
                    receiver.span(),
                    "`#[action]` does not support methods: write a free fn and pass shared state through a `deps: &D` parameter",
                );
                break;
            }
            FnArg::Typed(pat) => &*pat.ty,
        };
        if index >= 3 {
            fail(
                errors,
                arg.span(),
                "too many parameters: an action fn takes its input, then optionally `deps: &D` and `ctx: &ActionContext`",
            );
            continue;
        }
        if matches!(ty, Type::ImplTrait(_)) {
            fail(
                errors,
                ty.span(),
                "`impl Trait` parameters make the fn generic, which `#[action]` does not support; name a concrete type",
            );
            continue;
        }
        if index == 0 {
            if let Type::Reference(_) = ty {
                let message = if is_context(ty) {
                    "the first parameter is the action's input; put `ctx: &ActionContext` after it (use `_: ()` for no input)"
                } else {
                    "the input is moved into the action and cannot be a reference: take an owned type (`&str` → `String`)"
                };
                fail(errors, ty.span(), message);
                continue;
            }
            input = Some(ty.clone());
            params.push(Role::Input);
            continue;
        }
        let Type::Reference(reference) = ty else {
            fail(
                errors,
                ty.span(),
                "unknown parameter: after the input, an action fn takes `deps: &D` and `ctx: &ActionContext`, each optional and by shared reference",
            );
            continue;
        };
        if let Some(mutability) = reference.mutability {
            fail(errors, mutability.span, "`deps` and `ctx` are shared references: remove `mut`");
            continue;
        }
        if is_context(ty) {
            if has_ctx {
                fail(errors, ty.span(), "a second `&ActionContext` parameter: an action fn takes one `ctx`");
                continue;
            }
            has_ctx = true;
            params.push(Role::Ctx);
        } else {
            if deps.is_some() {
                fail(
                    errors,
                    ty.span(),
                    "a second deps parameter: an action fn takes one `deps: &D`; group what it needs in one struct",
                );
                continue;
            }
            deps = Some((*reference.elem).clone());
            params.push(Role::Deps);
        }
    }
    if sig.inputs.is_empty() {
        fail(
            errors,
            sig.paren_token.span.join(),
            "an action fn takes its input as the first parameter; add one (`_: ()` for an action without input)",
        );
    }

    let output = match &sig.output {
        ReturnType::Default => {
            fail(
                errors,
                sig.paren_token.span.close(),
                "an action fn returns `Result<T, E>`: add a return type, e.g. `-> Result<(), MyError>`",
            );
            None
        }
        ReturnType::Type(_, ty) => match output(ty) {
            Some(output) => Some(output),
            None => {
                fail(
                    errors,
                    ty.span(),
                    &format!("an action fn returns `Result<T, E>`, not `{}`", ty.to_token_stream()),
                );
                None
            }
        },
    };
    if !ok {
        return None;
    }
    Some(Signature {
        fn_ident: sig.ident.clone(),
        type_ident,
        vis: func.vis.clone(),
        input: input?,
        deps,
        params,
        output: output?,
    })
}

/// Whether `ty` is `&ActionContext` (by the last path segment, so `&worker_utils::ActionContext`
/// counts too).
fn is_context(ty: &Type) -> bool {
    let Type::Reference(reference) = ty else { return false };
    matches!(&*reference.elem, Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "ActionContext" && s.arguments.is_none()))
}

/// The return type if it can be a `Result`: a path type named `Result` or `…Result` (an
/// alias such as `io::Result<T>`).
fn output(ty: &Type) -> Option<Box<Type>> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    last.ident.to_string().ends_with("Result").then(|| Box::new(ty.clone()))
}
