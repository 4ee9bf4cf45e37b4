//! Per-netns sysctls. /proc/sys/net resolves to the netns of the thread that opens the file.

use super::error::NetworkError;

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";
const IPV6_FORWARDING: &str = "/proc/sys/net/ipv6/conf/all/forwarding";

/// Turns on IPv4 forwarding in the calling thread's netns (default is off in a new netns).
pub(crate) fn enable_ip_forward() -> Result<(), NetworkError> {
    set_to_one(IP_FORWARD)
}

/// Turns on IPv6 forwarding on every interface of the calling thread's netns.
pub(crate) fn enable_ipv6_forward() -> Result<(), NetworkError> {
    set_to_one(IPV6_FORWARDING)
}

fn set_to_one(path: &str) -> Result<(), NetworkError> {
    let current = std::fs::read_to_string(path).map_err(|e| NetworkError::io("read", path, e))?;
    if current.trim() != "1" {
        std::fs::write(path, "1").map_err(|e| NetworkError::io("write", path, e))?;
    }
    Ok(())
}
