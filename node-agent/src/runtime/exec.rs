//! `Runtime::exec`: a process inside a running container's namespaces and cgroups, as the container's user.
//!
//! The agent is multi-threaded, so everything happens in `Command::pre_exec` with raw system calls only: the
//! forked child joins the namespaces, then forks once more because only children enter a joined PID namespace.
//! The middle process closes all its descriptors and relays the grandchild's exit status; the grandchild
//! returns to std, which execs the program (looked up in the container's PATH, in the container's root).

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use nix::libc;

use super::config::ShimConfig;
use super::error::RuntimeError;
use super::handle::Runtime;
use super::layout::StateLayout;
use super::spec::{User, DEFAULT_PATH};
use super::status::StatusRecord;

/// Namespaces joined, in this order (mnt last: it changes the root, and the others are opened by fd anyway).
const NAMESPACES: [&str; 5] = ["ipc", "uts", "net", "pid", "mnt"];

/// A process started by [`Runtime::exec`]. Wrap the files with `tokio::fs::File::from_std` (pipes) or
/// `tokio::io::unix::AsyncFd` (pty master) for async use, and call [`ExecProcess::wait`] via `spawn_blocking`.
#[derive(Debug)]
pub struct ExecProcess {
    child: Child,
    pub stdin: Option<File>,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
    /// With `tty`, the terminal's master side: write input, read output (stdout and stderr are merged).
    pub pty_master: Option<File>,
}

impl ExecProcess {
    /// Host pid of the helper that relays the program's exit status.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Blocks until the program exits; returns its exit code (128+N when killed by signal N).
    pub fn wait(&mut self) -> Result<i32, RuntimeError> {
        self.stdin = None;
        let status = self.child.wait().map_err(|e| RuntimeError::io("wait for exec process", e))?;
        Ok(exit_code(status))
    }

    pub fn try_wait(&mut self) -> Result<Option<i32>, RuntimeError> {
        let status = self.child.try_wait().map_err(|e| RuntimeError::io("poll exec process", e))?;
        Ok(status.map(exit_code))
    }

    /// Kills the helper; the program gets SIGKILL through its parent-death signal.
    pub fn kill(&mut self) -> Result<(), RuntimeError> {
        self.child.kill().map_err(|e| RuntimeError::io("kill exec process", e))
    }

    /// Sets the terminal size (no-op without a tty).
    pub fn resize_tty(&self, columns: u16, rows: u16) -> Result<(), RuntimeError> {
        let Some(master) = &self.pty_master else { return Ok(()) };
        let size = libc::winsize { ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ reads a winsize from the pointer, which is valid for the call.
        if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) } < 0 {
            return Err(RuntimeError::io("resize tty", io::Error::last_os_error()));
        }
        Ok(())
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(255)
}

impl Runtime {
    /// Runs `args` in the running container. `env` is added to (and overrides) the container's environment.
    pub fn exec(
        &self,
        state_dir: &Path,
        args: &[String],
        env: &[(String, String)],
        tty: bool,
    ) -> Result<ExecProcess, RuntimeError> {
        let layout = StateLayout::new(state_dir);
        let not_running = || RuntimeError::not_running(state_dir);
        let config = ShimConfig::load(&layout)?.ok_or_else(not_running)?;
        let record = StatusRecord::load(&layout)?.ok_or_else(not_running)?;
        let init = record.running_init().ok_or_else(not_running)?;
        let Some(program) = args.first() else {
            return Err(RuntimeError::InvalidSpec("exec needs a program".into()));
        };
        let namespaces = NAMESPACES
            .iter()
            .map(|ns| open(&format!("/proc/{}/ns/{ns}", init.pid), false))
            .collect::<Result<Vec<_>, _>>()?;
        // The pid could have been recycled between the status check and opening its namespaces.
        if !init.is_running() {
            return Err(not_running());
        }
        let cgroup_procs = config
            .cgroups
            .iter()
            .map(|dir| open(&dir.path.join("cgroup.procs").to_string_lossy(), true))
            .collect::<Result<Vec<_>, _>>()?;
        let spec = &config.spec;
        let entry = EntryPlan {
            namespaces: namespaces.iter().map(|f| f.as_raw_fd()).collect(),
            cgroup_procs: cgroup_procs.iter().map(|f| f.as_raw_fd()).collect(),
            user: spec.user.clone().unwrap_or_default(),
            working_dir: CString::new(spec.working_dir.as_deref().unwrap_or("/"))
                .map_err(|_| RuntimeError::InvalidSpec("working_dir contains NUL".into()))?,
            tty,
        };
        let mut command = Command::new(program);
        command.args(&args[1..]).env_clear().envs(merged_env(&spec.env, env, tty));
        let pty = if tty { Some(open_pty(init.pid)?) } else { None };
        match &pty {
            Some((_, slave)) => {
                let dup = |f: &File| f.try_clone().map_err(|e| RuntimeError::io("duplicate pty slave", e));
                command.stdin(dup(slave)?).stdout(dup(slave)?).stderr(dup(slave)?);
            }
            None => {
                command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
            }
        }
        // SAFETY: the closure uses only async-signal-safe system calls on data prepared above.
        unsafe { command.pre_exec(move || entry.enter()) };
        let mut child = command.spawn().map_err(|e| RuntimeError::io(format!("exec {program:?} in container"), e))?;
        // The namespace and cgroup descriptors and the slave were only needed by the child.
        drop((namespaces, cgroup_procs));
        let file = |fd: Option<OwnedFd>| fd.map(File::from);
        Ok(ExecProcess {
            stdin: file(child.stdin.take().map(OwnedFd::from)),
            stdout: file(child.stdout.take().map(OwnedFd::from)),
            stderr: file(child.stderr.take().map(OwnedFd::from)),
            pty_master: pty.map(|(master, _)| master),
            child,
        })
    }
}

fn open(path: &str, write: bool) -> Result<File, RuntimeError> {
    OpenOptions::new().read(!write).write(write).open(path).map_err(|e| RuntimeError::io(format!("open {path}"), e))
}

/// The container's environment, then `extra` (replacing same-named entries), with a default PATH (and TERM for
/// terminals, as containerd does).
fn merged_env(base: &[(String, String)], extra: &[(String, String)], tty: bool) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for (key, value) in base.iter().chain(extra) {
        env.retain(|(k, _)| k != key);
        env.push((key.clone(), value.clone()));
    }
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    if tty && !env.iter().any(|(k, _)| k == "TERM") {
        env.push(("TERM".into(), "xterm".into()));
    }
    env
}

/// A new pty pair from the container's own devpts instance (so `tty` inside names a device it can see), both
/// ends close-on-exec (the child gets the slave through dup2 onto 0, 1, 2).
fn open_pty(init_pid: u32) -> Result<(File, File), RuntimeError> {
    let ptmx = format!("/proc/{init_pid}/root/dev/pts/ptmx");
    let master = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(&ptmx)
        .map_err(|e| RuntimeError::io(format!("open {ptmx}"), e))?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int through the pointer; TIOCGPTPEER takes open flags and returns a new fd.
    let slave = unsafe {
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) < 0 {
            return Err(RuntimeError::io("unlock pty", io::Error::last_os_error()));
        }
        let fd = libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(RuntimeError::io("open pty slave", io::Error::last_os_error()));
        }
        File::from_raw_fd(fd)
    };
    Ok((master, slave))
}

/// What the forked child needs, as raw values: no allocation may happen after fork.
struct EntryPlan {
    namespaces: Vec<RawFd>,
    cgroup_procs: Vec<RawFd>,
    user: User,
    working_dir: CString,
    tty: bool,
}

impl EntryPlan {
    /// Runs in the forked child. Returns (in the grandchild) when the program may be exec'd.
    fn enter(&self) -> io::Result<()> {
        // SAFETY (whole body): raw system calls on descriptors and buffers owned by `self`.
        unsafe {
            for fd in &self.namespaces {
                check(libc::setns(*fd, 0))?;
            }
            let flags = libc::SIGCHLD as libc::c_ulong;
            let pid = libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize);
            if pid < 0 {
                return Err(io::Error::last_os_error());
            }
            if pid > 0 {
                relay_exit(pid as libc::pid_t);
            }
            for fd in &self.cgroup_procs {
                if libc::write(*fd, b"0".as_ptr().cast(), 1) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            let groups = &self.user.supplementary_groups;
            check(libc::setgroups(groups.len(), groups.as_ptr()))?;
            check(libc::setgid(self.user.gid))?;
            check(libc::setuid(self.user.uid))?;
            check(libc::chdir(self.working_dir.as_ptr()))?;
            // Descriptors the agent inherited without close-on-exec (e.g. a jobserver) must not reach the container.
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
            if self.tty {
                check(libc::setsid())?;
                check(libc::ioctl(0, libc::TIOCSCTTY, 0))?;
            }
            // Set after setuid (which clears it). Our parent lives outside the PID namespace, so getppid()
            // is 0; anything else means the relay already died.
            check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
            if libc::getppid() != 0 {
                libc::_exit(137);
            }
        }
        Ok(())
    }
}

fn check(result: libc::c_int) -> io::Result<()> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The middle process: hold no descriptors (so pipes and std's exec-error pipe close when the program's do) and
/// exit with the program's status.
unsafe fn relay_exit(pid: libc::pid_t) -> ! {
    libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
    let mut status = 0;
    loop {
        if libc::waitpid(pid, &mut status, 0) >= 0 {
            break;
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            libc::_exit(255);
        }
    }
    if libc::WIFEXITED(status) {
        libc::_exit(libc::WEXITSTATUS(status));
    }
    if libc::WIFSIGNALED(status) {
        libc::_exit(128 + libc::WTERMSIG(status));
    }
    libc::_exit(255)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_env_overrides_and_path_defaults() {
        let base = vec![("A".to_string(), "1".to_string()), ("B".to_string(), "2".to_string())];
        let extra = vec![("A".to_string(), "3".to_string())];
        let env = merged_env(&base, &extra, true);
        assert_eq!(env[0], ("B".to_string(), "2".to_string()));
        assert_eq!(env[1], ("A".to_string(), "3".to_string()));
        assert_eq!(env[2].0, "PATH");
        assert_eq!(env[3], ("TERM".to_string(), "xterm".to_string()));
    }
}
