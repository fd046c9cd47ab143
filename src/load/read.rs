//! Reading an object file: everything a loader uses, and not the DWARF.
//!
//! `clang -g` writes the program's debugging information (`.debug_info`,
//! `.debug_line`, ... and their relocations) beside the BTF: most of a
//! typical object's bytes (690 KB of the kernel selftests' 695 KB
//! `sock_iter_batch.bpf.o`), and nothing a loader reads: the kernel gets
//! BTF, never DWARF. So the file is read section by section, its DWARF
//! sections left as zeros in a buffer the size of the file. A fresh large
//! zeroed buffer is pages the kernel maps on first touch, so the untouched
//! DWARF costs neither copying nor memory. Anything unexpected in the
//! headers (not 64-bit little-endian ELF, a section past the end of the
//! file, a file that shrank) and the whole file is read instead, for the
//! parser to say what is wrong.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// ELF64 file and section header sizes.
const FILE_HEADER: usize = 64;
const SECTION_HEADER: usize = 64;
/// `SHT_NULL` and `SHT_NOBITS` sections have no bytes in the file.
const SHT_NULL: usize = 0;
const SHT_NOBITS: usize = 8;

/// The `len` bytes of `file` with its DWARF sections left as zeros, or None
/// when the headers are not what this expects (see the module doc).
pub(super) fn read_without_dwarf(file: &File, len: u64) -> Option<Vec<u8>> {
    let mut bytes = vec![0u8; usize::try_from(len).ok()?];
    read(file, &mut bytes, 0, FILE_HEADER)?;
    let h = &bytes[..FILE_HEADER];
    // 64-bit little-endian ELF, with no program headers (a BPF object is
    // relocatable) and a plain section count (0 means extended numbering).
    let (shoff, shentsize, shnum, shstrndx) = (
        word(h, 0x28, 8)?,
        word(h, 0x3a, 2)?,
        word(h, 0x3c, 2)?,
        word(h, 0x3e, 2)?,
    );
    if h[..6] != [0x7f, b'E', b'L', b'F', 2, 1] || word(h, 0x38, 2)? != 0 {
        return None;
    }
    if shentsize != SECTION_HEADER || shstrndx >= shnum {
        return None;
    }
    read(file, &mut bytes, shoff, shnum * SECTION_HEADER)?;
    // Each header's name offset, type, file offset and size.
    let headers: Vec<[usize; 4]> = (0..shnum)
        .map(|i| {
            let h = bytes.get(shoff + i * SECTION_HEADER..)?;
            Some([
                word(h, 0, 4)?,
                word(h, 4, 4)?,
                word(h, 0x18, 8)?,
                word(h, 0x20, 8)?,
            ])
        })
        .collect::<Option<_>>()?;
    let [_, _, names_at, names_len] = headers[shstrndx];
    read(file, &mut bytes, names_at, names_len)?;
    for (i, &[name, kind, at, size]) in headers.iter().enumerate() {
        let name = bytes.get(names_at..names_at + names_len)?.get(name..)?;
        if kind != SHT_NULL && kind != SHT_NOBITS && i != shstrndx && !is_dwarf(name) {
            read(file, &mut bytes, at, size)?;
        }
    }
    Some(bytes)
}

/// Whether the NUL-terminated name at the start of `name` is a DWARF
/// section's or its relocations'.
fn is_dwarf(name: &[u8]) -> bool {
    let name = (name.strip_prefix(b".rela"))
        .or_else(|| name.strip_prefix(b".rel"))
        .unwrap_or(name);
    name.starts_with(b".debug_")
}

/// Bytes `at..at + len` of the file into the same place of `bytes`.
fn read(file: &File, bytes: &mut [u8], at: usize, len: usize) -> Option<()> {
    let end = at.checked_add(len)?;
    file.read_exact_at(bytes.get_mut(at..end)?, at as u64).ok()
}

/// The little-endian word of `size` bytes (2, 4 or 8) at `at`.
fn word(b: &[u8], at: usize, size: usize) -> Option<usize> {
    let mut le = [0u8; 8];
    le[..size].copy_from_slice(b.get(at..at.checked_add(size)?)?);
    usize::try_from(u64::from_le_bytes(le)).ok()
}
