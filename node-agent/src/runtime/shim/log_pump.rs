//! Reading the container's stdout/stderr pipes and appending CRI log records.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{read, Pid};

use super::super::cri_log::{format_record, LineSplitter, Stream};
use super::reopen;

/// Poll interval when the kernel has no pidfd support and exits must be noticed by polling.
const EXIT_POLL_MILLIS: u16 = 100;
/// Upper bound on how late a log reopen request that raced with entering poll is served.
const IDLE_POLL_MILLIS: u16 = 1000;

struct Source {
    stream: Stream,
    fd: Option<OwnedFd>,
    splitter: LineSplitter,
}

/// Both output pipes and the log file they go to.
pub(super) struct LogPump {
    sources: [Source; 2],
    log: File,
    log_path: PathBuf,
    write_failed: bool,
}

/// Opens (creating it and its directory) the container log for appending.
pub(super) fn open_log(path: &Path) -> Result<File, String> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("create log directory {}: {e}", parent.display()))?;
    }
    OpenOptions::new().create(true).append(true).open(path).map_err(|e| format!("open log {}: {e}", path.display()))
}

impl LogPump {
    pub(super) fn new(stdout: OwnedFd, stderr: OwnedFd, log: File, log_path: PathBuf) -> Self {
        let source = |stream, fd| Source { stream, fd: Some(fd), splitter: LineSplitter::default() };
        let sources = [source(Stream::Stdout, stdout), source(Stream::Stderr, stderr)];
        LogPump { sources, log, log_path, write_failed: false }
    }

    /// After a rotation the agent renamed the file: continue in a new one at the original path.
    fn reopen_if_requested(&mut self) {
        if !reopen::take_request() {
            return;
        }
        match open_log(&self.log_path) {
            Ok(log) => {
                self.log = log;
                self.write_failed = false;
            }
            Err(e) => eprintln!("keel shim: reopen log: {e}"),
        }
    }

    /// Copies output until process `pid` (our child) exits, and returns how it exited.
    pub(super) fn run_until_exit(&mut self, pid: Pid) -> WaitStatus {
        let pidfd = pidfd_open(pid);
        loop {
            if let Some(status) = self.try_reap(pid) {
                return status;
            }
            let millis = if pidfd.is_some() { IDLE_POLL_MILLIS } else { EXIT_POLL_MILLIS };
            let timeout = PollTimeout::from(millis);
            self.poll_once(pidfd.as_ref().map(|fd| fd.as_fd()), timeout);
        }
    }

    /// Reads what is left after the init exited, until both pipes close or `timeout` passes, then flushes.
    pub(super) fn drain(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.sources.iter().any(|s| s.fd.is_some()) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            if !self.poll_once(None, PollTimeout::from(millis)) {
                break;
            }
        }
        for index in 0..self.sources.len() {
            let mut records = Vec::new();
            self.sources[index].splitter.finish(|text, partial| records.push((text.to_vec(), partial)));
            let stream = self.sources[index].stream;
            for (text, partial) in records {
                self.append(stream, partial, &text);
            }
        }
    }

    fn try_reap(&self, pid: Pid) -> Option<WaitStatus> {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => None,
            Ok(status) => Some(status),
            Err(e) => {
                eprintln!("keel shim: waitpid: {e}");
                Some(WaitStatus::Exited(pid, 255))
            }
        }
    }

    /// One poll round over the open pipes (and the pidfd); false if nothing became ready in time.
    fn poll_once(&mut self, pidfd: Option<BorrowedFd<'_>>, timeout: PollTimeout) -> bool {
        self.reopen_if_requested();
        let open: Vec<usize> = (0..self.sources.len()).filter(|&i| self.sources[i].fd.is_some()).collect();
        let readable = {
            let mut fds: Vec<PollFd<'_>> = open
                .iter()
                .filter_map(|&i| self.sources[i].fd.as_ref())
                .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
                .collect();
            if let Some(pidfd) = pidfd {
                fds.push(PollFd::new(pidfd, PollFlags::POLLIN));
            }
            match poll(&mut fds, timeout) {
                // Interrupted by a reopen request: not a timeout, the caller polls again.
                Err(Errno::EINTR) => return true,
                Ok(0) | Err(_) => return false,
                Ok(_) => fds.iter().take(open.len()).map(|fd| fd.any().unwrap_or(true)).collect::<Vec<bool>>(),
            }
        };
        for (slot, index) in open.into_iter().enumerate() {
            if readable[slot] {
                self.read_source(index);
            }
        }
        true
    }

    fn read_source(&mut self, index: usize) {
        let mut buf = [0u8; 32 * 1024];
        let Some(fd) = self.sources[index].fd.as_ref() else { return };
        match read(fd, &mut buf) {
            Ok(0) => self.sources[index].fd = None,
            Ok(n) => {
                let mut records = Vec::new();
                self.sources[index].splitter.push(&buf[..n], |text, partial| records.push((text.to_vec(), partial)));
                let stream = self.sources[index].stream;
                for (text, partial) in records {
                    self.append(stream, partial, &text);
                }
            }
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
            Err(_) => self.sources[index].fd = None,
        }
    }

    fn append(&mut self, stream: Stream, partial: bool, text: &[u8]) {
        let record = format_record(SystemTime::now(), stream, partial, text);
        // Keep draining the pipes even when the disk is full, or the container would block on write.
        if let Err(e) = self.log.write_all(&record) {
            if !self.write_failed {
                eprintln!("keel shim: writing container log: {e}");
                self.write_failed = true;
            }
        }
    }
}

/// A descriptor that becomes readable when `pid` exits (Linux 5.3+); `None` on older kernels.
fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: plain syscall; on success the returned descriptor is new and owned by us.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a fresh descriptor returned by the kernel (pidfds are always close-on-exec).
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
