//! Identifying processes across time: a pid plus its start time, so a recycled pid is never mistaken for ours.

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A process as seen from the host PID namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProcessIdentity {
    pub pid: u32,
    /// Field 22 of /proc/<pid>/stat (clock ticks after boot).
    pub start_ticks: u64,
}

impl ProcessIdentity {
    /// The identity of a live process, or `None` if it is gone.
    pub(crate) fn of(pid: u32) -> Option<Self> {
        let stat = read_stat(pid)?;
        Some(ProcessIdentity { pid, start_ticks: stat.start_ticks })
    }

    /// True while the process exists and has not exited (a zombie counts as exited).
    pub(crate) fn is_running(&self) -> bool {
        match read_stat(self.pid) {
            Some(stat) => stat.start_ticks == self.start_ticks && !matches!(stat.state, 'Z' | 'X'),
            None => false,
        }
    }

    /// Polls until the process has exited; true if it did within `timeout`.
    pub(crate) fn wait_exit(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.is_running() {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

struct Stat {
    state: char,
    start_ticks: u64,
}

fn read_stat(pid: u32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// The command name (field 2) may contain spaces and parentheses, so fields are counted after the last ')'.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // After the state (field 3), start time is field 22: skip fields 4..=21.
    let start_ticks = fields.nth(18)?.parse().ok()?;
    Some(Stat { state, start_ticks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let line =
            "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
        let stat = parse_stat(line).expect("parse");
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.start_ticks, 987654);
    }

    #[test]
    fn own_process_is_running() {
        let me = ProcessIdentity::of(std::process::id()).expect("self");
        assert!(me.is_running());
        let other = ProcessIdentity { start_ticks: me.start_ticks + 1, ..me };
        assert!(!other.is_running());
    }
}
