//! The parsers of what the kernel publishes: gzip for /proc/config.gz and
//! kallsyms lines.

use super::*;

// gzip of the same texts by Python's gzip (mtime 0): one member each with a
// dynamic-Huffman, a fixed-Huffman and a stored deflate block.
const DYNAMIC: &[u8] = &[
    31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 109, 151, 49, 78, 101, 49, 16, 4, 243, 61, 141, 199, 246, 120,
    198, 1, 17, 18, 43, 18, 62, 1, 57, 39, 224, 0, 220, 30, 109, 184, 84, 165, 214, 140, 212, 238,
    46, 189, 246, 123, 126, 188, 189, 188, 254, 253, 124, 188, 127, 188, 62, 222, 62, 199, 211,
    215, 159, 231, 255, 78, 226, 233, 251, 215, 201, 196, 201, 194, 214, 198, 76, 226, 228, 96,
    171, 48, 211, 56, 185, 84, 56, 48, 20, 84, 29, 147, 139, 139, 83, 20, 30, 201, 197, 195, 41,
    106, 143, 230, 226, 165, 155, 84, 63, 3, 139, 147, 166, 79, 170, 159, 155, 139, 244, 125, 82,
    253, 44, 46, 210, 250, 73, 245, 139, 192, 44, 122, 191, 4, 25, 50, 179, 232, 253, 162, 250, 69,
    108, 22, 189, 95, 84, 191, 72, 206, 166, 247, 155, 234, 55, 201, 217, 244, 126, 83, 253, 38,
    57, 155, 222, 111, 170, 223, 36, 103, 211, 251, 164, 250, 36, 57, 73, 239, 147, 234, 147, 228,
    36, 189, 79, 170, 79, 146, 147, 244, 62, 169, 254, 144, 156, 67, 239, 15, 213, 31, 146, 115,
    232, 253, 145, 239, 13, 201, 57, 244, 254, 80, 253, 33, 57, 69, 239, 139, 234, 139, 228, 20,
    189, 47, 170, 47, 146, 83, 244, 190, 168, 190, 72, 78, 209, 251, 166, 250, 38, 57, 77, 239,
    155, 234, 155, 228, 52, 189, 111, 170, 111, 146, 211, 244, 190, 169, 254, 146, 156, 75, 239,
    47, 213, 95, 146, 115, 233, 253, 165, 250, 75, 114, 46, 189, 191, 82, 86, 214, 86, 82, 87, 67,
    250, 106, 72, 97, 13, 105, 172, 33, 149, 53, 164, 179, 134, 148, 214, 144, 214, 26, 82, 91,
    227, 74, 197, 90, 237, 146, 162, 136, 41, 115, 114, 143, 216, 178, 155, 50, 39, 247, 136, 146,
    221, 150, 57, 185, 199, 148, 55, 207, 180, 247, 131, 220, 99, 46, 217, 149, 60, 164, 133, 99,
    30, 217, 149, 60, 164, 136, 99, 10, 87, 75, 242, 144, 46, 142, 101, 15, 33, 201, 67, 234, 56,
    150, 112, 181, 36, 15, 105, 228, 88, 194, 213, 146, 60, 164, 148, 99, 11, 87, 91, 242, 216,
    246, 162, 19, 174, 182, 228, 33, 213, 28, 91, 184, 218, 146, 135, 180, 115, 164, 112, 149, 146,
    135, 20, 116, 164, 112, 149, 246, 52, 149, 123, 164, 112, 149, 146, 135, 212, 116, 164, 112,
    117, 36, 15, 105, 234, 56, 194, 213, 145, 60, 164, 172, 227, 216, 27, 91, 242, 144, 190, 142,
    35, 92, 29, 201, 67, 42, 59, 74, 184, 42, 201, 67, 90, 59, 74, 184, 42, 201, 163, 236, 103, 65,
    184, 42, 201, 67, 186, 59, 90, 184, 106, 201, 67, 234, 59, 90, 184, 106, 201, 67, 26, 60, 90,
    184, 106, 251, 235, 145, 123, 180, 112, 117, 37, 15, 233, 241, 184, 194, 213, 149, 60, 164,
    202, 227, 10, 87, 87, 242, 144, 54, 143, 107, 191, 111, 255, 242, 248, 1, 195, 117, 24, 55, 50,
    15, 0, 0,
];
const FIXED: &[u8] = &[
    31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 115, 246, 247, 115, 243, 116, 143, 247, 136, 178, 53, 50, 53,
    224, 2, 0, 251, 95, 58, 1, 14, 0, 0, 0,
];
const STORED: &[u8] = &[
    31, 139, 8, 0, 0, 0, 0, 0, 4, 3, 1, 14, 0, 241, 255, 67, 79, 78, 70, 73, 71, 95, 72, 90, 61,
    50, 53, 48, 10, 251, 95, 58, 1, 14, 0, 0, 0,
];

fn dynamic_text() -> String {
    (0..200)
        .map(|i| format!("CONFIG_OPTION_{i}={}\n", if i % 3 != 0 { 'y' } else { 'm' }))
        .collect()
}

#[test]
fn gunzip_decodes_every_block_type() {
    assert_eq!(gunzip(DYNAMIC, 1 << 20).unwrap(), dynamic_text().as_bytes());
    assert_eq!(gunzip(FIXED, 1 << 20).unwrap(), b"CONFIG_HZ=250\n");
    assert_eq!(gunzip(STORED, 1 << 20).unwrap(), b"CONFIG_HZ=250\n");
}

#[test]
fn gunzip_refuses_bad_input_without_panicking() {
    // Over the limit.
    assert!(gunzip(DYNAMIC, 100).unwrap_err().contains("exceeds"));
    // A flipped byte in the data or the CRC.
    let mut bad = FIXED.to_vec();
    let n = bad.len();
    bad[n - 6] ^= 1;
    assert!(gunzip(&bad, 1 << 20).is_err());
    // Every truncation and every single-byte corruption: an error or, if the
    // checks happen to pass, some output; never a panic.
    for cut in 0..DYNAMIC.len() {
        assert!(gunzip(&DYNAMIC[..cut], 1 << 20).is_err());
    }
    for at in 0..DYNAMIC.len() {
        let mut bad = DYNAMIC.to_vec();
        bad[at] ^= 0x55;
        let _ = gunzip(&bad, 1 << 20);
    }
    assert!(gunzip(b"not gzip at all, no", 1 << 20).is_err());
}

#[test]
fn kallsyms() {
    let text = "ffffffff81000000 T _stext\nffffffff814d58f0 T bpf_prog_put\n\
                ffffffffc0001000 t dup [mod]\nffffffffc0002000 t dup [other]\n\
                0000000000000000 T hidden\n";
    assert_eq!(
        kallsyms_lookup(text, "bpf_prog_put"),
        Ok(Some(0xffffffff814d58f0))
    );
    assert_eq!(kallsyms_lookup(text, "absent"), Ok(None));
    assert!(kallsyms_lookup(text, "dup")
        .unwrap_err()
        .contains("ambiguous"));
    assert!(kallsyms_lookup(text, "hidden")
        .unwrap_err()
        .contains("kptr_restrict"));
}
