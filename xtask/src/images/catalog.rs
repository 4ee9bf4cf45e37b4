//! Which test images exist and what goes into each.

use super::busybox::Busybox;
use super::oci::{ImageRef, RunConfig};
use super::rootfs::Rootfs;

/// Everything needed to write one image archive.
pub struct ImageSpec {
    /// File name under target/images/.
    pub file_name: String,
    pub image: ImageRef,
    pub run: RunConfig,
    pub rootfs: Rootfs,
}

/// keel-test/echo:<version>: the echo server as /echo, answering on 8080 (TCP and UDP).
pub fn echo(version: &str, echo_binary: &[u8]) -> ImageSpec {
    let mut rootfs = Rootfs::with_base_files();
    rootfs.file("echo", 0o755, echo_binary.to_vec());
    ImageSpec {
        file_name: format!("echo-{version}.tar"),
        image: ImageRef { repository: "keel-test/echo".into(), tag: version.into() },
        run: RunConfig {
            env: vec![format!("VERSION={version}"), "PORT=8080".into()],
            entrypoint: vec!["/echo".into()],
            cmd: Vec::new(),
            exposed_ports: vec!["8080/tcp".into(), "8080/udp".into()],
        },
        rootfs,
    }
}

/// keel-test/toolbox:latest: busybox with a /bin link per applet, plus dnsq and the echo server.
pub fn toolbox(busybox: &Busybox, echo_binary: &[u8], dnsq_binary: &[u8]) -> ImageSpec {
    let mut rootfs = Rootfs::with_base_files();
    rootfs.file("bin/busybox", 0o755, busybox.binary.clone());
    rootfs.file("bin/dnsq", 0o755, dnsq_binary.to_vec());
    rootfs.file("bin/echo-server", 0o755, echo_binary.to_vec());
    for applet in &busybox.applets {
        rootfs.symlink_if_absent(&format!("bin/{applet}"), "busybox");
    }
    ImageSpec {
        file_name: "toolbox.tar".into(),
        image: ImageRef { repository: "keel-test/toolbox".into(), tag: "latest".into() },
        run: RunConfig { cmd: vec!["sh".into()], ..RunConfig::default() },
        rootfs,
    }
}
