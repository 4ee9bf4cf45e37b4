//! The toolbox userland: Debian's `busybox-static`, installed with apt-get when missing.

use super::binaries::read_static;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

const BUSYBOX: &str = "/bin/busybox";
const PACKAGE: &str = "busybox-static";

/// The static busybox binary and the applet names it provides.
pub struct Busybox {
    pub binary: Vec<u8>,
    pub applets: Vec<String>,
}

/// Returns the host's static busybox, installing `busybox-static` first if needed.
pub fn ensure() -> Result<Busybox> {
    if !is_static_busybox(Path::new(BUSYBOX)) {
        install()?;
    }
    let binary = read_static(Path::new(BUSYBOX))
        .with_context(|| format!("{BUSYBOX} must come from Debian's {PACKAGE} package"))?;
    Ok(Busybox { binary, applets: applets()? })
}

fn is_static_busybox(path: &Path) -> bool {
    std::fs::read(path).ok().is_some_and(|data| super::elf::is_static(&data).unwrap_or(false))
}

/// apt-get install; on failure refresh the package lists once and retry. `--no-remove` keeps apt
/// from removing the dynamic `busybox` package (or anything else) behind the user's back.
fn install() -> Result<()> {
    println!("==> {BUSYBOX} is missing or not static: installing Debian package {PACKAGE}");
    let install = || apt(&["install", "-y", "--no-remove", PACKAGE]);
    if install().is_ok() {
        return Ok(());
    }
    apt(&["update"])?;
    install()
}

fn apt(args: &[&str]) -> Result<()> {
    println!("==> apt-get {}", args.join(" "));
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("starting apt-get (is this Debian, and are we root?)")?;
    if !status.success() {
        bail!("apt-get {} failed with {status}", args.join(" "));
    }
    Ok(())
}

/// `busybox --list`: one applet name per line.
fn applets() -> Result<Vec<String>> {
    let output = Command::new(BUSYBOX).arg("--list").output().context("running busybox --list")?;
    if !output.status.success() {
        bail!("busybox --list failed with {}", output.status);
    }
    let text = String::from_utf8(output.stdout).context("busybox --list printed non-UTF-8")?;
    let applets = parse_applets(&text);
    if applets.is_empty() {
        bail!("busybox --list printed no applets");
    }
    Ok(applets)
}

/// Keeps plain names only: an applet name becomes a path under /bin.
fn parse_applets(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|name| !name.is_empty() && *name != "." && *name != ".." && !name.contains('/'))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applet_list_drops_unsafe_names() {
        assert_eq!(parse_applets("sh\n\n[\n../etc\n..\nwget\n"), ["sh", "[", "wget"]);
    }
}
