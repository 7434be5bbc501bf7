//! Helpers for the tests that need a real Redis: where it is, a private namespace per test
//! (deleted at the end), and a private `redis-server` for tests that stop or restart one.

#![allow(dead_code, unreachable_pub, reason = "each test binary uses a different part")]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use worker_utils_tests::external_missing;

/// The shared Redis: `REDIS_URL`, or the one this machine kind runs on 6379.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Whether the shared Redis is missing (prints the skip notice, or fails under
/// `WORKER_UTILS_REQUIRE_EXTERNAL=1`).
pub async fn redis_missing() -> bool {
    let url = redis_url();
    let present = match redis::Client::open(url.as_str()) {
        Ok(client) => {
            let ping = async {
                let mut connection = client.get_multiplexed_async_connection().await?;
                redis::cmd("PING").query_async::<String>(&mut connection).await
            };
            matches!(tokio::time::timeout(Duration::from_secs(3), ping).await, Ok(Ok(_)))
        }
        Err(_) => false,
    };
    external_missing(&format!("a Redis server at {url} (set REDIS_URL)"), present)
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A namespace no other test (or test run) uses.
pub fn namespace(test: &str) -> String {
    format!("wutest-{test}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Every key of `namespace` in the Redis at `url`.
pub async fn keys(url: &str, namespace: &str) -> Vec<String> {
    let client = redis::Client::open(url).expect("redis url");
    let mut connection = client.get_multiplexed_async_connection().await.expect("connect");
    let mut keys: Vec<String> = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{namespace}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut connection)
            .await
            .expect("scan");
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys
}

/// Deletes every key of `namespace` (never anything else: the shared Redis is not ours).
pub async fn delete_namespace(url: &str, namespace: &str) {
    let doomed = keys(url, namespace).await;
    if doomed.is_empty() {
        return;
    }
    let client = redis::Client::open(url).expect("redis url");
    let mut connection = client.get_multiplexed_async_connection().await.expect("connect");
    for chunk in doomed.chunks(500) {
        let _: () = redis::cmd("DEL").arg(chunk).query_async(&mut connection).await.expect("del");
    }
}

/// A `redis-server` of the test's own, on a free loopback port, appendonly on, killed when
/// dropped. Restartable on the same port and data directory.
pub struct PrivateRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Whether `redis-server` can be run here (prints the skip notice if not).
    pub fn missing() -> bool {
        let present = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        external_missing("the `redis-server` program", present)
    }

    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("wutest-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("data dir");
        let mut redis = Self { port, dir, child: None };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) and waits until it answers.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the private redis-server did not start on port {}", self.port);
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
