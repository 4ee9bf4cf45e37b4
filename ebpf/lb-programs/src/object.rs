//! What every object built from this crate needs at its root: the license
//! the kernel checks for GPL-only helpers (`bpf_redirect_neigh` and
//! `bpf_fib_lookup` in the external path), and a panic handler.

/// Kernel-visible license.
#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // Unreachable in verified code: the verifier rejects any path that could get here.
    loop {}
}
