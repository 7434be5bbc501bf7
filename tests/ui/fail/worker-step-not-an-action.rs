use worker_utils::prelude::*;

#[action]
async fn fetch_image(url: String) -> Result<Vec<u8>, ActionError> {
    Ok(url.into_bytes())
}

async fn upload(bytes: Vec<u8>) -> Result<(), ActionError> {
    let _ = bytes;
    Ok(())
}

#[worker(queue = "thumbnails", pipeline = [fetch_image, upload])]
struct ThumbnailWorker;

fn main() {
    let _ = upload(Vec::new());
}
