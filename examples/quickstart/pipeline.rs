//! The quickstart's job: a thumbnail pipeline of three flaky actions.

use std::time::Duration;

use worker_utils::prelude::*;

/// One job: an image to fetch, shrink and upload.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct ImageJob {
    id: u32,
    url: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Image {
    id: u32,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub(crate) struct Thumbnail {
    id: u32,
    bytes: Vec<u8>,
}

/// What every step may use.
pub(crate) struct Deps {
    pub(crate) cdn: String,
}

#[derive(Debug, thiserror::Error, Classify)]
pub(crate) enum FetchError {
    #[error("upstream timed out")]
    #[classify(transient)]
    Timeout,
    #[error("no image at {0}")]
    #[classify(permanent)]
    NotFound(String),
}

#[derive(Debug, thiserror::Error, Classify)]
pub(crate) enum ImageError {
    #[error("image {0} is corrupt")]
    #[classify(business_logic)]
    Corrupt(u32),
}

#[derive(Debug, thiserror::Error, Classify)]
#[classify(transient, retry_after = retry_after)]
#[error("storage busy, retry in {retry_after:?}")]
pub(crate) struct StorageBusy {
    retry_after: Duration,
}

/// Rejects a job that a fetch could never serve before anything is tried: a rejection is
/// dead-lettered at once, never retried or redelivered.
fn https_only(job: &ImageJob) -> Result<(), String> {
    if job.url.starts_with("https://") { Ok(()) } else { Err(format!("{} is not an https URL", job.url)) }
}

/// Simulated I/O: on a job's first delivery, times out on the first two attempts for every
/// 9th image (a retry, or a later delivery, gets through); never finds every 47th.
#[action(
    validate = https_only,
    retry(max_attempts = 4, base_delay = "5ms", max_delay = "50ms"),
    error_handling,
    timeout = "2s"
)]
pub(crate) async fn fetch_image(job: ImageJob, ctx: &ActionContext) -> Result<Image, FetchError> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    if job.id.is_multiple_of(47) {
        return Err(FetchError::NotFound(job.url));
    }
    if job.id.is_multiple_of(9) && ctx.delivery() == 1 && ctx.attempt() < 3 {
        return Err(FetchError::Timeout);
    }
    Ok(Image { id: job.id, bytes: job.url.into_bytes().repeat(64) })
}

/// CPU work; every 61st image is corrupt (a business rule, not retried).
#[action(error_handling)]
pub(crate) async fn make_thumbnail(image: Image) -> Result<Thumbnail, ImageError> {
    if image.id.is_multiple_of(61) {
        return Err(ImageError::Corrupt(image.id));
    }
    let bytes = image.bytes.chunks(8).map(|c| c.iter().fold(0u8, |a, b| a.wrapping_add(*b))).collect();
    Ok(Thumbnail { id: image.id, bytes })
}

/// Simulated upload: every 11th is told to come back later, on its first delivery.
#[action(retry(max_attempts = 3, base_delay = "5ms", max_delay = "20ms"), error_handling)]
pub(crate) async fn upload(
    thumbnail: Thumbnail,
    deps: &Deps,
    ctx: &ActionContext,
) -> Result<String, StorageBusy> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    if thumbnail.id.is_multiple_of(11) && ctx.delivery() == 1 && ctx.attempt() == 1 {
        return Err(StorageBusy { retry_after: Duration::from_millis(10) });
    }
    Ok(format!("{}/thumbs/{}.png ({} bytes)", deps.cdn, thumbnail.id, thumbnail.bytes.len()))
}

/// fetch_image → make_thumbnail → upload, on the `thumbnails` queue; the runner adds
/// PROCESSING / COMPLETED / FAILED around the pipeline. A transient failure that outlives an
/// action's own retries (or whose retry the retry budget refused under load) goes back to
/// the queue for a later delivery, up to 5 deliveries; only the rest are dead letters.
#[worker(
    queue = "thumbnails",
    deps = Deps,
    pipeline = [fetch_image, make_thumbnail, upload],
    concurrency = 32,
    redeliver(max_deliveries = 5, base_delay = "100ms", max_delay = "2s"),
)]
pub(crate) struct ThumbnailWorker;

impl ImageJob {
    /// The job for image `id`.
    pub(crate) fn new(id: u32) -> Self {
        Self { id, url: format!("https://images.example/{id}.jpg") }
    }
}
