//! The main form: queue, deps, a three-step pipeline and a concurrency.

use worker_utils::pipeline::Then;
use worker_utils::prelude::*;
use worker_utils::worker::Worker;

struct Deps {
    prefix: String,
}

#[action]
async fn fetch_image(url: String, deps: &Deps) -> Result<Vec<u8>, ActionError> {
    Ok(format!("{}{url}", deps.prefix).into_bytes())
}

#[action(retry(max_attempts = 2))]
async fn make_thumbnail(image: Vec<u8>) -> Result<Vec<u8>, ActionError> {
    Ok(image.into_iter().take(4).collect())
}

#[action(timeout = "5s")]
async fn upload(thumbnail: Vec<u8>, ctx: &ActionContext) -> Result<usize, ActionError> {
    let _ = ctx;
    Ok(thumbnail.len())
}

/// Doc comments and derives stay on the struct.
#[worker(queue = "thumbnails", deps = Deps, pipeline = [fetch_image, make_thumbnail, upload], concurrency = 8)]
#[derive(Debug, Default)]
struct ThumbnailWorker {
    _private: (),
}

fn pipeline_type(_: &Then<Then<FetchImage, MakeThumbnail>, Upload>) {}

fn main() {
    let worker = ThumbnailWorker::default();
    let _ = Deps { prefix: String::new() }.prefix;
    assert_eq!(worker.queue(), "thumbnails");
    assert_eq!(worker.concurrency(), 8);
    pipeline_type(&worker.pipeline());
}
