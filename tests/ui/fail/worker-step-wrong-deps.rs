use worker_utils::prelude::*;

struct Deps;
struct OtherDeps;

#[action]
async fn fetch_image(url: String, deps: &OtherDeps) -> Result<Vec<u8>, ActionError> {
    let _ = deps;
    Ok(url.into_bytes())
}

#[worker(queue = "thumbnails", deps = Deps, pipeline = [fetch_image])]
struct ThumbnailWorker;

fn main() {}
