//! Per-netns sysctls. /proc/sys/net resolves to the netns of the thread that opens the file.

use super::error::NetworkError;

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// Turns on IPv4 forwarding in the calling thread's netns (default is off in a new netns).
pub(crate) fn enable_ip_forward() -> Result<(), NetworkError> {
    let current = std::fs::read_to_string(IP_FORWARD).map_err(|e| NetworkError::io("read", IP_FORWARD, e))?;
    if current.trim() != "1" {
        std::fs::write(IP_FORWARD, "1").map_err(|e| NetworkError::io("write", IP_FORWARD, e))?;
    }
    Ok(())
}
