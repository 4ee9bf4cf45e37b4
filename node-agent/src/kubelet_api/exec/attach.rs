//! attach, output only: the runtime's shim owns the container's stdio and writes it to the CRI log, so attaching
//! means streaming the log records written from now on (stdout and stderr kept apart) until the container
//! stops, then reporting its exit code like exec does.

use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::super::logs::cri::parse_record;
use super::super::{ContainerState, Runtime};
use super::session::{ExecIo, OutputKind};

const POLL_INTERVAL: Duration = Duration::from_millis(100);

pub(crate) async fn run_attach(
    runtime: Arc<Runtime>,
    state_dir: PathBuf,
    log: PathBuf,
    io: ExecIo,
) -> Result<i32, String> {
    let mut file = tokio::fs::File::open(&log).await.map_err(|e| format!("open {}: {e}", log.display()))?;
    file.seek(SeekFrom::End(0)).await.map_err(|e| format!("seek {}: {e}", log.display()))?;
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        // Checked before reading, so the last lines of a container that just stopped are still sent.
        let state = runtime.state(&state_dir);
        loop {
            let n = file.read(&mut buf).await.map_err(|e| format!("read {}: {e}", log.display()))?;
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            let Some(end) = pending.iter().rposition(|b| *b == b'\n') else { continue };
            let complete: Vec<u8> = pending.drain(..=end).collect();
            for record in complete[..complete.len() - 1].split(|b| *b == b'\n').filter_map(parse_record) {
                let kind = if record.stderr { OutputKind::Stderr } else { OutputKind::Stdout };
                let mut text = record.text.to_vec();
                if !record.partial {
                    text.push(b'\n');
                }
                if io.output.send((kind, Bytes::from(text))).is_err() {
                    return Err("client went away".into());
                }
            }
        }
        match state {
            ContainerState::Running { .. } => {}
            ContainerState::Exited { exit_code, .. } => return Ok(exit_code),
            ContainerState::Failed { message } => return Err(message),
            ContainerState::Unknown => return Err("the container is gone".into()),
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = io.output.closed() => return Err("client went away".into()),
        }
    }
}
