//! Streams one log file into a response body channel, following it while the container runs.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::filter::LogFilter;
use super::options::LogOptions;

const POLL_INTERVAL: Duration = Duration::from_millis(200);
const CHUNK: usize = 64 * 1024;

/// Writes the log to `tx` until it is complete (or, with `follow`, until `running()` turns false and the file is
/// drained). Returns early when the client goes away (the receiver is dropped).
pub(crate) async fn stream_log(
    path: PathBuf,
    options: LogOptions,
    running: impl Fn() -> bool + Send,
    tx: mpsc::Sender<Bytes>,
) {
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => Some(file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            let _ = tx.send(Bytes::from(format!("failed to open log {}: {e}\n", path.display()))).await;
            return;
        }
    };
    let mut filter = LogFilter::new(&options);
    let mut out = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    if let Some(file) = &mut file {
        if !read_available(file, &mut buf, &mut filter, &mut out, &tx).await {
            return;
        }
    }
    filter.end_of_backlog(&mut out);
    if !options.follow {
        filter.finish(&mut out);
        send(&tx, &mut out).await;
        return;
    }
    if !send(&tx, &mut out).await {
        return;
    }
    loop {
        if filter.exhausted() {
            return;
        }
        // Checked before reading, so lines written just before the container stopped are still read.
        let stopped = !running();
        if file.is_none() {
            file = tokio::fs::File::open(&path).await.ok();
        }
        if let Some(file) = &mut file {
            if !read_available(file, &mut buf, &mut filter, &mut out, &tx).await {
                return;
            }
        }
        if stopped {
            filter.finish(&mut out);
            send(&tx, &mut out).await;
            return;
        }
        if !send(&tx, &mut out).await {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = tx.closed() => return,
        }
    }
}

/// Reads to the current end of the file through the filter, sending output as it accumulates. False when the
/// client is gone or the file cannot be read.
async fn read_available(
    file: &mut tokio::fs::File,
    buf: &mut [u8],
    filter: &mut LogFilter,
    out: &mut Vec<u8>,
    tx: &mpsc::Sender<Bytes>,
) -> bool {
    loop {
        let n = match file.read(buf).await {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!("read container log: {e}");
                return false;
            }
        };
        if n == 0 {
            return true;
        }
        filter.feed(&buf[..n], out);
        if (out.len() >= CHUNK || filter.exhausted()) && !send(tx, out).await {
            return false;
        }
    }
}

async fn send(tx: &mpsc::Sender<Bytes>, out: &mut Vec<u8>) -> bool {
    if out.is_empty() {
        return !tx.is_closed();
    }
    tx.send(Bytes::from(std::mem::take(out))).await.is_ok()
}
