//! Runs one exec'd process and moves its bytes, independent of the wire protocol: stdin and resize events come
//! in through channels, stdout/stderr chunks go out through one channel (so they keep their order relative to
//! the exit status the transport writes after the channel closes).

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::super::Runtime;
use super::request::ExecRequest;
use super::resize::TermSize;

const EXIT_POLL: Duration = Duration::from_millis(20);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutputKind {
    Stdout,
    Stderr,
}

pub(crate) type Output = (OutputKind, Bytes);

pub(crate) struct ExecIo {
    /// Client input; the channel closing means end of input.
    pub stdin: Option<mpsc::UnboundedReceiver<Bytes>>,
    pub resize: Option<mpsc::UnboundedReceiver<TermSize>>,
    /// Process output. When the transport drops the receiver (client gone) the process is killed.
    pub output: mpsc::UnboundedSender<Output>,
}

/// What a streaming session runs.
pub(crate) enum Action {
    Exec { runtime: Arc<Runtime>, state_dir: PathBuf },
    Attach { runtime: Arc<Runtime>, state_dir: PathBuf, log: PathBuf },
}

/// Runs the action to completion; `Ok(exit code)` or a message for the client.
pub(crate) async fn run(action: Action, request: ExecRequest, io: ExecIo) -> Result<i32, String> {
    match action {
        Action::Exec { runtime, state_dir } => run_exec(runtime, state_dir, request, io).await,
        Action::Attach { runtime, state_dir, log } => super::attach::run_attach(runtime, state_dir, log, io).await,
    }
}

async fn run_exec(runtime: Arc<Runtime>, state_dir: PathBuf, request: ExecRequest, io: ExecIo) -> Result<i32, String> {
    let ExecIo { stdin, mut resize, output } = io;
    let command = request.command.clone();
    let tty = request.tty;
    let mut process = tokio::task::spawn_blocking(move || runtime.exec(&state_dir, &command, &[], tty))
        .await
        .map_err(|e| format!("exec task failed: {e}"))?
        .map_err(|e| e.to_string())?;
    let sink = |wanted: bool| wanted.then(|| output.clone());
    let mut readers: Vec<JoinHandle<()>> = Vec::new();
    // The process keeps its master (resize_tty uses it); we read and write duplicates.
    if let Some(master) = &process.pty_master {
        let duplicate = || master.try_clone().map_err(|e| format!("duplicate pty: {e}"));
        let (output_side, input) = (duplicate()?, duplicate()?);
        readers.push(spawn_reader(output_side, OutputKind::Stdout, sink(request.stdout)));
        if let Some(rx) = stdin {
            spawn_writer(input, rx);
        }
    } else {
        if let Some(out) = process.stdout.take() {
            readers.push(spawn_reader(out, OutputKind::Stdout, sink(request.stdout)));
        }
        if let Some(err) = process.stderr.take() {
            readers.push(spawn_reader(err, OutputKind::Stderr, sink(request.wants_stderr())));
        }
        // Without client input the pipe is closed here, so the program sees end of input at once.
        if let (Some(pipe), Some(rx)) = (process.stdin.take(), stdin) {
            spawn_writer(pipe, rx);
        }
    }
    let code = loop {
        tokio::select! {
            size = next_resize(&mut resize) => {
                if let Some(size) = size {
                    if let Err(e) = process.resize_tty(size.width, size.height) {
                        tracing::debug!("exec resize: {e}");
                    }
                }
            }
            _ = tokio::time::sleep(EXIT_POLL) => {
                match process.try_wait() {
                    Ok(Some(code)) => break Ok(code),
                    Ok(None) if output.is_closed() => {
                        // The client is gone: nobody will see the result.
                        let _ = process.kill();
                    }
                    Ok(None) => {}
                    Err(e) => break Err(e.to_string()),
                }
            }
        }
    };
    drop(output);
    for reader in readers {
        let _ = reader.await;
    }
    code
}

/// The next size event; pending forever when there is no resize channel (or it closed).
async fn next_resize(resize: &mut Option<mpsc::UnboundedReceiver<TermSize>>) -> Option<TermSize> {
    let Some(rx) = resize else { return std::future::pending().await };
    let size = rx.recv().await;
    if size.is_none() {
        *resize = None;
    }
    size
}

/// Reads a pipe or pty master until end of file on a blocking thread. Without a sink (the client did not ask for
/// this stream) the bytes are discarded, so the program never blocks on a full pipe.
fn spawn_reader(mut file: File, kind: OutputKind, mut sink: Option<mpsc::UnboundedSender<Output>>) -> JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if let Some(tx) = &sink {
                        if tx.send((kind, Bytes::copy_from_slice(&buf[..n]))).is_err() {
                            sink = None;
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // EIO: a pty master whose terminal has no process left.
                Err(_) => return,
            }
        }
    })
}

/// Copies client input into the program on a thread of its own; the file closes when the input ends.
fn spawn_writer(mut file: File, mut input: mpsc::UnboundedReceiver<Bytes>) {
    std::thread::spawn(move || {
        while let Some(data) = input.blocking_recv() {
            if file.write_all(&data).is_err() {
                return;
            }
        }
    });
}
