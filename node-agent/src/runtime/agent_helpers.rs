//! Small conveniences the kubelet uses on top of the runtime: finding a
//! container's spec after an agent restart, and running a command inside a
//! container to completion (exec probes, hooks).

use super::config::ShimConfig;
use super::layout::StateLayout;
use super::{ContainerSpec, Runtime, RuntimeError};
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

/// The spec a container was started with, if its state dir has one.
pub fn load_spec(state_dir: &Path) -> Option<ContainerSpec> {
    ShimConfig::load(&StateLayout::new(state_dir)).ok().flatten().map(|c| c.spec)
}

impl Runtime {
    /// Run `args` in the container and wait up to `timeout`; returns the
    /// exit code and the combined output (at most 10 KiB, like the kubelet).
    pub fn exec_output(
        &self,
        state_dir: &Path,
        args: &[String],
        timeout: Duration,
    ) -> Result<(i32, Vec<u8>), RuntimeError> {
        let mut proc = self.exec(state_dir, args, &[], false)?;
        drop(proc.stdin.take());
        let readers: Vec<_> = [proc.stdout.take(), proc.stderr.take()]
            .into_iter()
            .flatten()
            .map(|mut f| {
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let _ = (&mut f).take(10 * 1024).read_to_end(&mut buf);
                    // Drain the rest so the process never blocks on a full pipe.
                    let _ = std::io::copy(&mut f, &mut std::io::sink());
                    buf
                })
            })
            .collect();
        let deadline = Instant::now() + timeout;
        let code = loop {
            if let Some(code) = proc.try_wait()? {
                break code;
            }
            if Instant::now() > deadline {
                let _ = proc.kill();
                let _ = proc.wait();
                return Err(RuntimeError::Timeout(format!("command {args:?} timed out after {timeout:?}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut output = Vec::new();
        for r in readers {
            output.extend(r.join().unwrap_or_default());
        }
        output.truncate(10 * 1024);
        Ok((code, output))
    }
}
