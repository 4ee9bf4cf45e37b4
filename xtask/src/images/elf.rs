//! Just enough ELF parsing to tell a static executable from a dynamically linked one.

use anyhow::{bail, Context, Result};

const PT_INTERP: u32 = 3;

/// True when the x86_64 ELF file has no program interpreter, i.e. runs without ld.so and shared
/// libraries (static and static-pie executables alike).
pub fn is_static(elf: &[u8]) -> Result<bool> {
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" {
        bail!("not an ELF file");
    }
    if elf[4] != 2 || elf[5] != 1 {
        bail!("not a 64-bit little-endian ELF file");
    }
    let phoff = usize::try_from(u64::from_le_bytes(field(elf, 0x20)?)).context("program header offset")?;
    let phentsize = usize::from(u16::from_le_bytes(field(elf, 0x36)?));
    let phnum = usize::from(u16::from_le_bytes(field(elf, 0x38)?));
    for index in 0..phnum {
        let at = phoff + index * phentsize;
        if u32::from_le_bytes(field(elf, at)?) == PT_INTERP {
            return Ok(false);
        }
    }
    Ok(true)
}

fn field<const N: usize>(elf: &[u8], at: usize) -> Result<[u8; N]> {
    elf.get(at..at + N).and_then(|s| s.try_into().ok()).context("ELF file is truncated")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_binary_itself_is_dynamic() -> Result<()> {
        let exe = std::fs::read(std::env::current_exe()?)?;
        assert!(!is_static(&exe)?);
        Ok(())
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(is_static(b"#!/bin/sh\n").is_err());
        assert!(is_static(&[0x7f, b'E', b'L', b'F', 2, 1, 0, 0]).is_err());
    }
}
