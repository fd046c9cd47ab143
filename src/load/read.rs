//! Reading an object file: everything a loader uses, and not the DWARF.
//!
//! `clang -g` writes the program's debugging information (`.debug_info`,
//! `.debug_line`, ... and their relocations) beside the BTF: most of a
//! typical object's bytes (620 KB of the kernel selftests' 695 KB
//! `sock_iter_batch.bpf.o`), and nothing a loader reads: the kernel gets
//! BTF, never DWARF. So a large file is read by the ranges of its other
//! sections (neighbours read as one), its DWARF left as zeros in a buffer
//! the size of the file. A fresh large zeroed buffer is pages the kernel
//! maps on first touch, so the untouched DWARF costs neither copying nor
//! memory. A file no larger than the first read is read whole by it.
//! Anything unexpected in the headers (not 64-bit little-endian ELF, a
//! section past the end of the file, a file that shrank) and the whole
//! file is read the usual way instead, for the parser to say what is wrong.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// The first read: the ELF header and, for most objects, everything.
const FIRST: usize = 64 * 1024;
/// ELF64 file and section header sizes.
const FILE_HEADER: usize = 64;
const SECTION_HEADER: usize = 64;
/// Sections closer than this are read as one (the gap read too).
const GAP: usize = 4096;
/// `SHT_NULL` and `SHT_NOBITS` sections have no bytes in the file.
const SHT_NULL: usize = 0;
const SHT_NOBITS: usize = 8;

/// The `len` bytes of `file` with its DWARF sections left as zeros, or None
/// when the headers are not what this expects (see the module doc).
pub(super) fn read_without_dwarf(file: &File, len: u64) -> Option<Vec<u8>> {
    let mut bytes = vec![0u8; usize::try_from(len).ok()?];
    let first = bytes.len().min(FIRST);
    read(file, &mut bytes, 0, first)?;
    if first == bytes.len() {
        return Some(bytes);
    }
    let h = bytes.get(..FILE_HEADER)?;
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
    let mut wanted: Vec<(usize, usize)> = Vec::new();
    for &[name, kind, at, size] in &headers {
        let name = bytes
            .get(names_at..names_at.checked_add(names_len)?)?
            .get(name..)?;
        if kind != SHT_NULL && kind != SHT_NOBITS && !is_dwarf(name) {
            wanted.push((at.max(first), at.checked_add(size)?));
        }
    }
    wanted.sort_unstable();
    let mut run: Option<(usize, usize)> = None;
    for (start, end) in wanted.into_iter().filter(|(s, e)| s < e) {
        run = match run {
            Some((s, e)) if start <= e.saturating_add(GAP) => Some((s, e.max(end))),
            Some((s, e)) => {
                read(file, &mut bytes, s, e - s)?;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = run {
        read(file, &mut bytes, s, e - s)?;
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
