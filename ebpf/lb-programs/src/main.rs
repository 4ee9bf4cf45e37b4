//! Keel socket-level Service load balancing: cgroup `sock_addr` programs that rewrite the
//! destination of connect()/sendmsg() from a Service frontend to a backend, and rewrite the
//! backend back to the frontend in recvmsg()/getpeername(). One object, `keel-lb`, holds them all.
#![no_std]
#![no_main]

mod addr;
mod maps;
mod object;
mod reverse;
mod select;
mod translate;
