//! flock(2)-based locks shared between the agent and `keel image` processes.

use std::fs::{File, OpenOptions};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::error::{ImageError, IoResultExt};

/// Released when dropped (closing the file releases the flock).
pub(super) struct StoreLock {
    _lock: Flock<File>,
}

pub(super) fn lock_shared(path: &Path) -> Result<StoreLock, ImageError> {
    lock(path, FlockArg::LockShared)
}

pub(super) fn lock_exclusive(path: &Path) -> Result<StoreLock, ImageError> {
    lock(path, FlockArg::LockExclusive)
}

fn lock(path: &Path, mode: FlockArg) -> Result<StoreLock, ImageError> {
    let mut file = OpenOptions::new().create(true).truncate(false).write(true).open(path).at("open lock file", path)?;
    loop {
        match Flock::lock(file, mode) {
            Ok(lock) => return Ok(StoreLock { _lock: lock }),
            Err((returned, Errno::EINTR)) => file = returned,
            Err((_, errno)) => return Err(ImageError::io_path("lock", path, errno.into())),
        }
    }
}
