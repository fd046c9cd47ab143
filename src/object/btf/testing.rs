//! A BTF blob writer for unit tests, here and in the layers that read BTF:
//! the header, the type records as little-endian words, the strings.

use super::types::MAGIC;

/// A blob of `types` (the records, word by word) and `strings` (which
/// should start with a NUL), with a 24-byte header that places them end to
/// end.
pub(crate) fn blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
    let type_len = (types.len() * 4) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&MAGIC.to_le_bytes());
    b.extend_from_slice(&[1, 0]);
    for v in [24u32, 0, type_len, type_len, strings.len() as u32] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for t in types {
        b.extend_from_slice(&t.to_le_bytes());
    }
    b.extend_from_slice(strings);
    b
}

/// A record's `info` word.
pub(crate) fn info(kind: u8, vlen: u32, kflag: bool) -> u32 {
    (u32::from(kind) << 24) | vlen | u32::from(kflag) << 31
}

/// A `.BTF.ext` blob with a func_info section only: its 24-byte header,
/// then `func` (the record size and the per-section blocks).
pub(crate) fn ext_with_func_info(func: &[u8]) -> Vec<u8> {
    let mut ext = Vec::new();
    ext.extend_from_slice(&MAGIC.to_le_bytes());
    ext.extend_from_slice(&[1, 0]);
    for v in [24u32, 0, func.len() as u32, 0, 0] {
        ext.extend_from_slice(&v.to_le_bytes());
    }
    ext.extend_from_slice(func);
    ext
}
