use worker_utils::prelude::*;

#[action]
async fn fetch_image(url: String) -> Result<Vec<u8>, ActionError> {
    Ok(url.into_bytes())
}

// rustc's suggestion for a misspelt variable names the user's own variable, not a type
// that `#[action]` (or a `#[worker]` using it) generated.
#[worker(queue = "images", pipeline = [fetch_image])]
struct ImageWorker;

fn main() {
    let image_url = String::from("https://example.com/cat.png");
    let _ = fetch_image(image_ulr);
}
