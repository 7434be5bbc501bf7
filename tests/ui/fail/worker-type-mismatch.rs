use worker_utils::prelude::*;

#[action]
async fn fetch_image(url: String) -> Result<Vec<u8>, ActionError> {
    Ok(url.into_bytes())
}

#[action]
async fn make_thumbnail(name: String) -> Result<String, ActionError> {
    Ok(name)
}

#[action]
async fn upload(thumbnail: String) -> Result<(), ActionError> {
    let _ = thumbnail;
    Ok(())
}

#[worker(queue = "thumbnails", pipeline = [fetch_image, make_thumbnail, upload])]
struct ThumbnailWorker;

fn main() {}
