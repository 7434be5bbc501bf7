use worker_utils::prelude::*;

#[action]
async fn fetch_image(url: String) -> Result<Vec<u8>, ActionError> {
    Ok(url.into_bytes())
}

/// A type named like the action `upload` would generate, but no fn `upload`: the worker
/// looks for the fn, so the type does not count; the import of the missing fn fails, and
/// the step is not an `#[action]` fn.
struct Upload;

impl Upload {
    fn new() -> Self {
        Upload
    }
}

#[action]
async fn store(bytes: Vec<u8>) -> Result<(), ActionError> {
    let _ = bytes;
    Ok(())
}

#[worker(queue = "thumbnails", pipeline = [fetch_image, upload, store])]
struct ThumbnailWorker;

fn main() {}
