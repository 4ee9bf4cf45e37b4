//! Running code inside a network namespace (on a short-lived thread, so the test process itself
//! never changes namespace), and turning off TX checksum offload on an interface.
use std::{fs::File, io, os::fd::AsRawFd, path::PathBuf, process::Command, thread};

pub fn ns_path(name: &str) -> PathBuf {
    PathBuf::from("/run/netns").join(name)
}

/// Runs `f` on a new thread that has entered netns `name`. Sockets created there stay in it.
pub fn run_in<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let ns = File::open(ns_path(name)).map_err(|e| format!("open netns {name}: {e}"))?;
    thread::spawn(move || {
        // SAFETY: setns on a valid netns fd; affects only this thread.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("setns: {}", io::Error::last_os_error()));
        }
        Ok(f())
    })
    .join()
    .map_err(|_| "netns thread panicked".to_string())?
}

/// `ip -n <ns> ...` (or plain `ip ...` for an empty `ns`).
pub fn ip(ns: &str, args: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new("ip");
    if !ns.is_empty() {
        cmd.args(["-n", ns]);
    }
    let out = cmd.args(args).output().map_err(|e| format!("ip {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("ip -n {ns} {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(())
}

pub fn sysctl(ns: &str, key: &str, value: &str) -> Result<(), String> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    let value = value.to_string();
    run_in(ns, move || std::fs::write(&path, value).map_err(|e| format!("{path}: {e}")))?
}

/// veth and bridges offload TX checksums by default: packets then carry only the pseudo-header sum
/// and the receiver trusts them. Turned off on the senders so every receiver verifies the
/// checksums our rewrites produce (ethtool's legacy ETHTOOL_STXCSUM, without needing ethtool).
pub fn disable_tx_checksum(ns: &str, iface: &str) -> Result<(), String> {
    let iface = iface.to_string();
    run_in(ns, move || set_tx_checksum(&iface, false))?
}

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

const ETHTOOL_STXCSUM: u32 = 0x17;
const SIOCETHTOOL: libc::c_ulong = 0x8946;

fn set_tx_checksum(iface: &str, on: bool) -> Result<(), String> {
    let mut value = EthtoolValue { cmd: ETHTOOL_STXCSUM, data: u32::from(on) };
    // SAFETY: all-zero is a valid ifreq.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if iface.len() >= req.ifr_name.len() {
        return Err(format!("interface name {iface} too long"));
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(iface.bytes()) {
        *dst = src as libc::c_char;
    }
    req.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
    // SAFETY: plain socket(2); the fd is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", io::Error::last_os_error()));
    }
    // SAFETY: req points at a valid ifreq whose data points at `value`, both alive for the call.
    let rc = unsafe { libc::ioctl(fd, SIOCETHTOOL as _, &mut req) };
    let err = io::Error::last_os_error();
    // SAFETY: closing the fd we opened.
    unsafe { libc::close(fd) };
    if rc != 0 {
        return Err(format!("ETHTOOL_STXCSUM on {iface}: {err}"));
    }
    Ok(())
}

/// Sum of the TCP and UDP `InCsumErrors` counters of a namespace (/proc/net/snmp).
pub fn checksum_errors(ns: &str) -> Result<u64, String> {
    let snmp = run_in(ns, || std::fs::read_to_string("/proc/thread-self/net/snmp").map_err(|e| e.to_string()))??;
    let mut total = 0;
    let lines: Vec<&str> = snmp.lines().collect();
    for pair in lines.chunks(2) {
        let [names, values] = pair else { continue };
        if !(names.starts_with("Tcp:") || names.starts_with("Udp:")) {
            continue;
        }
        for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
            if name == "InCsumErrors" {
                total += value.parse::<u64>().map_err(|e| format!("{name}={value}: {e}"))?;
            }
        }
    }
    Ok(total)
}
