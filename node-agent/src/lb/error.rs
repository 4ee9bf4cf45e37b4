//! Errors of the socket and external load balancers, worded to name the cause an operator must fix.
use std::{io, path::PathBuf};

use aya::{maps::MapError, programs::ProgramError, EbpfError};

#[derive(Debug, thiserror::Error)]
pub enum LbError {
    #[error("socket LB needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN); effective uid is {uid}: {source}")]
    NotPrivileged { uid: u32, source: Box<LbError> },

    #[error("{path} is not on a bpffs; mount one with `mount -t bpf bpf /sys/fs/bpf`")]
    NoBpffs { path: PathBuf },

    #[error("{path} is not a cgroup v2 directory (cgroup sock_addr programs attach to cgroup v2 only)")]
    NotCgroup2 { path: PathBuf },

    #[error("kernel {release} is too old: cgroup getpeername hooks and BPF links need Linux >= 5.8")]
    KernelTooOld { release: String },

    #[error("kernel {release} is too old: the external LB attaches with TCX links, which need Linux >= 6.6")]
    TcxUnsupported { release: String },

    #[error("network interface {name} does not exist in this network namespace")]
    NoInterface { name: String },

    #[error("loading the keel-lb eBPF object failed: {0}")]
    Load(#[source] EbpfError),

    #[error("eBPF program {name}: {source}")]
    Program { name: &'static str, source: ProgramError },

    #[error("map {name}: {source}")]
    Map { name: &'static str, source: MapError },

    #[error(
        "pinned map {path} has an incompatible layout ({found}; expected {expected}); \
         run unload to remove the old pins"
    )]
    IncompatiblePin { path: PathBuf, found: String, expected: String },

    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },

    #[error("invalid service: {0}")]
    Invalid(String),

    #[error("no free service id: {0} services configured")]
    TooManyServices(usize),
}

impl LbError {
    pub(super) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    pub(super) fn map(name: &'static str) -> impl FnOnce(MapError) -> Self {
        move |source| Self::Map { name, source }
    }

    pub(super) fn program(name: &'static str) -> impl FnOnce(ProgramError) -> Self {
        move |source| Self::Program { name, source }
    }
}
