//! Golden expansion snapshots: the main forms of each macro, rendered with prettyplease and
//! compared with the committed files in `tests/expand/` at the workspace root, so a change
//! to the generated code is a reviewed diff. `UPDATE_SNAPSHOTS=1 cargo test -p
//! worker-utils-macros snapshots` rewrites them.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;

fn render(tokens: TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(error) => format!("// does not parse as a file ({error}):\n{tokens}\n"),
    }
}

fn check(name: &str, expanded: TokenStream) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/expand").join(format!("{name}.rs"));
    let actual = render(expanded);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &actual).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("reading {} ({e}); run with UPDATE_SNAPSHOTS=1 to create it", path.display())
    });
    assert!(
        expected == actual,
        "expansion of `{name}` changed; review and run with UPDATE_SNAPSHOTS=1 to accept:\n--- {}\n{expected}\n+++ actual\n{actual}",
        path.display()
    );
}

fn action(name: &str, args: TokenStream, item: TokenStream) {
    check(name, crate::action::action(args, item));
}

#[test]
fn action_bare() {
    action(
        "action_bare",
        quote!(),
        quote! {
            async fn double(input: u32) -> Result<u32, ActionError> {
                Ok(input * 2)
            }
        },
    );
}

#[test]
fn action_retry_error_handling() {
    action(
        "action_retry_error_handling",
        quote!(retry(max_attempts = 5, base_delay = "200ms", max_delay = "10s"), error_handling),
        quote! {
            pub async fn fetch_image(url: String, deps: &Deps, ctx: &ActionContext) -> Result<Vec<u8>, FetchError> {
                deps.client.get(&url, ctx).await
            }
        },
    );
}

#[test]
fn action_every_argument() {
    action(
        "action_every_argument",
        quote!(
            timeout = "30s",
            error_handling(handler = recover, cleanup = release),
            retry(max_attempts = 4, backoff = linear, jitter = "none", on = [Transient], when = is_retryable),
            name = "resize",
            crate = "my_crate::worker_utils"
        ),
        quote! {
            pub(crate) async fn make_thumbnail(image: Image, ctx: &ActionContext) -> std::io::Result<Thumbnail> {
                image.resize(ctx).await
            }
        },
    );
}

#[test]
fn action_resilience() {
    action(
        "action_resilience",
        quote!(
            timeout = "5s",
            circuit_breaker(failure_ratio = 0.25, window = "1m", open_for = "10s", on = [Transient]),
            retry(max_attempts = 3, budget(ratio = 0.1, per_second = 5)),
            total_timeout = "30s"
        ),
        quote! {
            async fn charge(order: Order) -> Result<Receipt, PaymentError> {
                order.pay().await
            }
        },
    );
}

#[test]
fn action_shared_resilience() {
    action(
        "action_shared_resilience",
        quote!(circuit_breaker = upstream::BREAKER, retry(budget = upstream::BUDGET)),
        quote! {
            async fn refund(order: Order) -> Result<(), PaymentError> {
                order.refund().await
            }
        },
    );
}

#[test]
fn action_validate() {
    action(
        "action_validate",
        quote!(retry, validate = checks::image_url, error_handling),
        quote! {
            async fn fetch_image(url: String, deps: &Deps) -> Result<Vec<u8>, FetchError> {
                deps.client.get(&url).await
            }
        },
    );
}

#[test]
fn action_with_errors() {
    action(
        "action_with_errors",
        quote!(retry(max_attempts = 0), timeout = "soon", colour = "red"),
        quote! {
            async fn step(input: u32) -> Result<u32, ActionError> {
                Ok(input)
            }
        },
    );
}

fn worker(name: &str, args: TokenStream, item: TokenStream) {
    check(name, crate::worker::worker(args, item));
}

#[test]
fn worker_main_form() {
    worker(
        "worker_main_form",
        quote!(
            queue = "thumbnails",
            deps = Deps,
            pipeline = [fetch_image, make_thumbnail, steps::upload],
            concurrency = 8
        ),
        quote! {
            /// Makes thumbnails.
            #[derive(Debug)]
            pub struct ThumbnailWorker;
        },
    );
}

#[test]
fn worker_defaults() {
    worker(
        "worker_defaults",
        quote!(queue = "numbers", pipeline = [double], crate = "my_crate::worker_utils"),
        quote! {
            struct Doubler { factor: u32 }
        },
    );
}

#[test]
fn worker_redeliver() {
    worker(
        "worker_redeliver",
        quote!(
            queue = "payments",
            pipeline = [charge],
            redeliver(
                max_deliveries = 8,
                base_delay = "30s",
                max_delay = "2h",
                backoff = exponential,
                factor = 3.0,
                jitter = equal,
                on = [Transient, System]
            )
        ),
        quote! {
            struct PaymentWorker;
        },
    );
}

#[test]
fn worker_alert() {
    worker(
        "worker_alert",
        quote!(
            queue = "thumbnails",
            deps = Deps,
            pipeline = [fetch_image, steps::resize],
            alert(failure_rate = 0.5, window = "2m", min_calls = 20),
            alert(
                dead_letter_rate = 0.1,
                resolve_below = 0.02,
                action = resize,
                name = "resize-dead-letters"
            )
        ),
        quote! {
            pub struct Thumbnails;
        },
    );
}

#[test]
fn worker_never_redeliver() {
    worker(
        "worker_never_redeliver",
        quote!(queue = "emails", pipeline = [send_email], redeliver = false),
        quote! {
            struct EmailWorker;
        },
    );
}

#[test]
fn worker_with_errors() {
    worker(
        "worker_with_errors",
        quote!(queue = "", pipeline = [fetch_image, upload], concurrency = 0, retries = 3),
        quote! {
            struct Broken;
        },
    );
}

#[test]
fn classify_enum() {
    check(
        "classify_enum",
        crate::classify::derive(quote! {
            #[classify(transient)]
            enum FetchError<E> {
                Timeout,
                #[classify(retry_after = wait)]
                RateLimited { wait: Duration },
                #[classify(permanent)]
                BadUrl(String),
                #[classify(permanent, retry_after = 1)]
                Upstream(E, Option<Duration>),
            }
        }),
    );
}

#[test]
fn classify_struct() {
    check(
        "classify_struct",
        crate::classify::derive(quote! {
            #[classify(system, retry_after = 0)]
            struct Overloaded(Duration);
        }),
    );
}
