//! The record `run --pin` leaves beside its pins, as text: what it wrote,
//! and how `detach` reads it back. Pure functions of bytes; the files are
//! made and read in [`super`].
//!
//! The record is the target text of symbolic links in the pin directory
//! (bpffs has symlinks: `bpf_symlink` in kernel/bpf/inode.c), so it costs
//! no bpf() call. A symlink target is at most 4095 bytes (`PATH_MAX` with
//! its NUL), so a longer record is cut into parts of exactly 4095 bytes
//! (the last one shorter): `rawbpf_run`, then `rawbpf_run-1`,
//! `rawbpf_run-2`, ... (a `-`, not a `.`: bpffs refuses dots in names, and
//! no pin name rawbpf makes has a `-`). Their targets, joined in order, are:
//!
//! ```text
//! rawbpf-run 1 PARTS PINS BYTES      version 1; BYTES counts what follows this line
//! cgroup ID CREATED                  the cgroup's id (inode), CREATED 1 if run made it
//! KIND ATTACH_TYPE NAME              one line per pin, PINS of them
//! ...
//! CGROUP_PATH                        last and without a newline: any byte but NUL
//! ```
//!
//! KIND is `L` a link, `A` a program attached with BPF_PROG_ATTACH (legacy),
//! `M` a map, `P` a program not attached, `N` a map pinned by name.
//! ATTACH_TYPE is decimal (0 where there is none); a NAME is a file name in
//! the pin directory: no `/`, no newline, at most 255 bytes. Without a
//! cgroup ID is 0 and CGROUP_PATH empty. Anything else (another first line,
//! a part count over [`MAX_PARTS`], a part missing or of the wrong length,
//! a byte count that does not match, an unknown kind) is not a record.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::PinKind;

/// The first part's name; the others are `rawbpf_run-1`, `rawbpf_run-2`...
pub const HEAD: &str = "rawbpf_run";
/// The most bytes in one part: a symlink target with its NUL fills PATH_MAX.
pub const PART_MAX: usize = 4095;
/// The most parts `detach` reads (1 MiB): a hostile directory cannot make
/// it read more.
pub const MAX_PARTS: usize = 256;
/// The most pins `run` records (checked before anything is loaded).
pub const MAX_PINS: usize = 2048;
/// The longest pin name (NAME_MAX, which bpffs enforces).
pub const NAME_MAX: usize = 255;
/// The longest cgroup path recorded: what open(2) takes (PATH_MAX).
pub const PATH_MAX: usize = 4095;

const MAGIC: &str = "rawbpf-run";
const VERSION: u32 = 1;
/// The longest header and cgroup lines, and the longest pin line.
const HEAD_LINES_MAX: usize = 64 + 32;
const PIN_LINE_MAX: usize = 2 + 10 + 1 + NAME_MAX + 1;
// Whatever passes `run`'s checks fits in the parts `detach` reads.
const _: () = assert!(HEAD_LINES_MAX + MAX_PINS * PIN_LINE_MAX + PATH_MAX <= MAX_PARTS * PART_MAX);

/// What a record says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// `run` created the cgroup: `detach` removes it when it is empty.
    pub cgroup_created: bool,
    /// The cgroup's path at `run` time; empty when there was none.
    pub cgroup_path: PathBuf,
    /// The cgroup's id (its inode number); 0 when there was none.
    pub cgroup_id: u64,
    /// (pin name, kind, attach type)
    pub pins: Vec<(String, PinKind, u32)>,
}

/// The name of part `i` (0 is [`HEAD`]).
pub fn part_name(i: usize) -> String {
    match i {
        0 => HEAD.to_string(),
        _ => format!("{HEAD}-{i}"),
    }
}

/// Whether `name` is the name of a record part (of any record).
pub fn is_part_name(name: &str) -> bool {
    match name.strip_prefix(HEAD) {
        Some("") => true,
        Some(rest) => rest.strip_prefix('-').is_some_and(|n| decimal(n).is_some()),
        None => false,
    }
}

impl PinKind {
    fn letter(self) -> char {
        match self {
            PinKind::Link => 'L',
            PinKind::Legacy => 'A',
            PinKind::Map => 'M',
            PinKind::Program => 'P',
            PinKind::ByName => 'N',
        }
    }

    fn from_letter(s: &str) -> Option<PinKind> {
        Some(match s {
            "L" => PinKind::Link,
            "A" => PinKind::Legacy,
            "M" => PinKind::Map,
            "P" => PinKind::Program,
            "N" => PinKind::ByName,
            _ => return None,
        })
    }
}

/// Why a pin name cannot be recorded, if it cannot.
pub fn bad_name(name: &str) -> Option<&'static str> {
    if name.is_empty() || name == "." || name == ".." {
        Some("is not a file name")
    } else if name.len() > NAME_MAX {
        Some("is longer than 255 bytes")
    } else if name.contains(['/', '\n', '\0']) {
        Some("holds a '/', a newline or a NUL")
    } else if is_part_name(name) {
        Some("is the name of rawbpf's record")
    } else {
        None
    }
}

/// The record as its parts' target texts, in order.
pub fn encode(record: &Record) -> Result<Vec<Vec<u8>>, String> {
    let path = record.cgroup_path.as_os_str().as_bytes();
    if path.contains(&0) || path.len() > PATH_MAX {
        return Err(format!(
            "the cgroup path {} cannot be recorded (a NUL, or longer than {PATH_MAX} bytes)",
            record.cgroup_path.display()
        ));
    }
    let mut body = format!(
        "cgroup {} {}\n",
        record.cgroup_id,
        u8::from(record.cgroup_created)
    )
    .into_bytes();
    for (name, kind, attach_type) in &record.pins {
        if let Some(why) = bad_name(name) {
            return Err(format!("the pin name {name:?} {why}"));
        }
        body.extend_from_slice(format!("{} {attach_type} {name}\n", kind.letter()).as_bytes());
    }
    body.extend_from_slice(path);
    // The part count is in the first line, whose length it changes: settle it.
    let mut parts = 1;
    let head = loop {
        let head = format!(
            "{MAGIC} {VERSION} {parts} {} {}\n",
            record.pins.len(),
            body.len()
        );
        let need = (head.len() + body.len()).div_ceil(PART_MAX);
        if need == parts {
            break head;
        }
        parts = need;
    };
    if parts > MAX_PARTS {
        return Err(format!(
            "{} pins need a record of {parts} parts, more than the {MAX_PARTS} rawbpf reads back",
            record.pins.len()
        ));
    }
    let text = [head.as_bytes(), &body].concat();
    Ok(text.chunks(PART_MAX).map(<[u8]>::to_vec).collect())
}

/// The number of parts the first part says the record has.
pub fn part_count(head: &[u8]) -> Result<usize, String> {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let fields = header(line)?;
    Ok(fields[0])
}

/// `rawbpf-run 1 PARTS PINS BYTES`: [PARTS, PINS, BYTES].
fn header(line: &[u8]) -> Result<[usize; 3], String> {
    let line = std::str::from_utf8(line).map_err(|_| "it is not rawbpf's record".to_string())?;
    let not_ours = || "it is not rawbpf's record".to_string();
    let mut words = line.split(' ');
    if words.next() != Some(MAGIC) {
        return Err(not_ours());
    }
    match words.next().and_then(decimal) {
        Some(v) if v == VERSION as u64 => {}
        Some(v) => return Err(format!("it is a record of version {v}, not {VERSION}")),
        None => return Err(not_ours()),
    }
    let mut out = [0usize; 3];
    for v in &mut out {
        *v = words
            .next()
            .and_then(decimal)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(not_ours)?;
    }
    if words.next().is_some() {
        return Err(not_ours());
    }
    if !(1..=MAX_PARTS).contains(&out[0]) {
        return Err(format!(
            "it says it has {} parts (rawbpf reads 1 to {MAX_PARTS})",
            out[0]
        ));
    }
    Ok(out)
}

/// A decimal number: ASCII digits only, no sign or space.
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Reads a record from its parts' target texts joined in order; `parts` is
/// how many there were (each but the last exactly [`PART_MAX`] bytes).
pub fn decode(text: &[u8], parts: usize) -> Result<Record, String> {
    let damaged = |what: &str| format!("it is damaged ({what})");
    let (first, mut rest) = split_line(text).ok_or_else(|| damaged("no first line"))?;
    let [said_parts, pins, bytes] = header(first)?;
    if said_parts != parts || text.len().div_ceil(PART_MAX) != parts {
        return Err(damaged("its parts do not add up"));
    }
    if rest.len() != bytes {
        return Err(damaged("its length does not match"));
    }
    let mut line = || -> Result<&str, String> {
        let (l, r) = split_line(rest).ok_or_else(|| damaged("a line is missing"))?;
        rest = r;
        std::str::from_utf8(l).map_err(|_| damaged("a line is not UTF-8"))
    };
    let (cgroup_id, cgroup_created) = match line()?.split(' ').collect::<Vec<_>>()[..] {
        ["cgroup", id, "0"] => (decimal(id), false),
        ["cgroup", id, "1"] => (decimal(id), true),
        _ => return Err(damaged("no cgroup line")),
    };
    let cgroup_id = cgroup_id.ok_or_else(|| damaged("a bad cgroup id"))?;
    let mut out = Vec::new();
    for i in 0..pins {
        let l = line()?;
        let mut words = l.splitn(3, ' ');
        let (Some(kind), Some(attach_type), Some(name)) =
            (words.next(), words.next(), words.next())
        else {
            return Err(damaged(&format!("pin {i} is not KIND ATTACH_TYPE NAME")));
        };
        let kind = PinKind::from_letter(kind)
            .ok_or_else(|| damaged(&format!("pin {i} has an unknown kind {kind:?}")))?;
        let attach_type = decimal(attach_type)
            .and_then(|t| u32::try_from(t).ok())
            .ok_or_else(|| damaged(&format!("pin {i} has a bad attach type")))?;
        if let Some(why) = bad_name(name) {
            return Err(damaged(&format!("the name of pin {i} {why}")));
        }
        out.push((name.to_string(), kind, attach_type));
    }
    let cgroup_path = PathBuf::from(OsStr::from_bytes(rest));
    if (cgroup_id == 0) != rest.is_empty() || (cgroup_created && rest.is_empty()) {
        return Err(damaged("the cgroup's id and path disagree"));
    }
    Ok(Record {
        cgroup_created,
        cgroup_path,
        cgroup_id,
        pins: out,
    })
}

/// The bytes up to the first newline, and those after it.
fn split_line(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = text.iter().position(|&b| b == b'\n')?;
    Some((&text[..at], &text[at + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pins: &[(&str, PinKind, u32)], path: &[u8], id: u64) -> Record {
        Record {
            cgroup_created: id != 0,
            cgroup_path: PathBuf::from(OsStr::from_bytes(path)),
            cgroup_id: id,
            pins: pins
                .iter()
                .map(|&(n, k, t)| (n.to_string(), k, t))
                .collect(),
        }
    }

    fn decode_parts(parts: &[Vec<u8>]) -> Result<Record, String> {
        decode(&parts.concat(), parts.len())
    }

    #[test]
    fn the_text_is_as_documented() {
        let r = record(
            &[
                ("map_hmap", PinKind::Map, 0),
                ("link_bpf_prog1", PinKind::Link, 1),
                ("counts", PinKind::ByName, 0),
            ],
            b"/sys/fs/cgroup/rawbpf",
            4242,
        );
        let parts = encode(&r).unwrap();
        let body =
            "cgroup 4242 1\nM 0 map_hmap\nL 1 link_bpf_prog1\nN 0 counts\n/sys/fs/cgroup/rawbpf";
        let want = format!("rawbpf-run 1 1 3 {}\n{body}", body.len());
        assert_eq!(parts, [want.into_bytes()]);
        assert_eq!(part_count(&parts[0]), Ok(1));
        assert_eq!(decode_parts(&parts), Ok(r));
    }

    #[test]
    fn no_cgroup_is_id_zero_and_an_empty_path() {
        let r = record(&[("prog_x", PinKind::Program, 0)], b"", 0);
        let parts = encode(&r).unwrap();
        assert!(parts[0].ends_with(b"cgroup 0 0\nP 0 prog_x\n"));
        assert_eq!(decode_parts(&parts), Ok(r));
    }

    #[test]
    fn a_cgroup_path_may_hold_newlines_and_any_byte_but_nul() {
        let path = b"/cg/a\nL 1 link_x\n\xff b";
        let r = record(&[("link_y", PinKind::Link, 2)], path, 7);
        let got = decode_parts(&encode(&r).unwrap()).unwrap();
        assert_eq!(got, r);
        assert_eq!(got.pins.len(), 1);
        let nul = record(&[], b"/cg/a\0b", 7);
        assert!(encode(&nul).is_err());
    }

    #[test]
    fn a_long_record_is_cut_into_full_parts() {
        let names: Vec<String> = (0..200).map(|i| format!("map_{i:0>60}")).collect();
        let pins: Vec<_> = names
            .iter()
            .map(|n| (n.as_str(), PinKind::Map, 0))
            .collect();
        let r = record(&pins, &[b'c'; 4000], 9);
        let parts = encode(&r).unwrap();
        assert!(parts.len() >= 4, "{}", parts.len());
        let (last, full) = parts.split_last().unwrap();
        assert!(full.iter().all(|p| p.len() == PART_MAX));
        assert!(!last.is_empty() && last.len() <= PART_MAX);
        assert_eq!(part_count(&parts[0]), Ok(parts.len()));
        assert_eq!(decode_parts(&parts), Ok(r));
        // A part missing, or one too many, is damage.
        assert!(decode_parts(&parts[..parts.len() - 1]).is_err());
        let mut more = parts.clone();
        more.push(b"x".to_vec());
        assert!(decode_parts(&more).is_err());
    }

    #[test]
    fn the_part_count_settles_across_a_boundary() {
        // Records just around the ends of a first and of a ninth part,
        // where the part count (one digit, then two) changes the first
        // line's length.
        let name = "m".repeat(200);
        for (pins, around) in [(1, PART_MAX), (170, 9 * PART_MAX)] {
            let pins = vec![(name.as_str(), PinKind::Map, 0); pins];
            let bare = encode(&record(&pins, b"/", 1)).unwrap().concat().len();
            let mut counts = std::collections::BTreeSet::new();
            for len in (around - bare).saturating_sub(40)..(around - bare + 40) {
                let r = record(&pins, &vec![b'p'; len.max(1)], 1);
                let parts = encode(&r).unwrap();
                assert!(parts.iter().all(|p| !p.is_empty() && p.len() <= PART_MAX));
                assert_eq!(part_count(&parts[0]), Ok(parts.len()));
                assert_eq!(decode_parts(&parts), Ok(r), "{len}");
                counts.insert(parts.len());
            }
            assert_eq!(counts.len(), 2, "{counts:?}");
        }
    }

    #[test]
    fn bad_names_are_refused_both_ways() {
        for name in ["", ".", "..", "a/b", "a\nb", "rawbpf_run", "rawbpf_run-3"] {
            assert!(bad_name(name).is_some(), "{name:?}");
            let r = record(&[(name, PinKind::Map, 0)], b"", 0);
            assert!(encode(&r).is_err(), "{name:?}");
        }
        assert!(bad_name(&"x".repeat(256)).is_some());
        assert!(bad_name(&"x".repeat(255)).is_none());
        assert!(bad_name("rawbpf_run-x").is_none());
        let text = b"rawbpf-run 1 1 1 22\ncgroup 0 0\nM 0 rawbpf_run\n";
        assert!(decode(text, 1).is_err());
    }

    #[test]
    fn malformed_records_are_refused() {
        let good = encode(&record(&[("map_m", PinKind::Map, 0)], b"/cg", 5)).unwrap();
        assert!(decode_parts(&good).is_ok());
        let text = String::from_utf8(good[0].clone()).unwrap();
        for bad in [
            text.replace("rawbpf-run", "rawbpf-rum"),
            text.replace("rawbpf-run 1", "rawbpf-run 2"),
            text.replace("M 0", "Q 0"),
            text.replace("M 0", "M -1"),
            text.replace("M 0", "M 4294967296"),
            text.replace("M 0", "M +0"),
            text.replace("cgroup 5 1", "cgroup 5 2"),
            text.replace("cgroup 5 1", "cgroup x 1"),
            text.replace("cgroup 5 1", "cgroup 0 1"),
            text.replace("/cg", ""),
            text.replace("/cg", "/cgroup"),
            text.replace(" 1 1 ", " 1 2 "),
            text.replace(" 1 1 ", " 1 0 "),
            text.replace(" 1 1 ", " 1 1 1 "),
            text[..text.len() - 1].to_string(),
            String::new(),
        ] {
            assert!(decode(bad.as_bytes(), 1).is_err(), "{bad:?}");
        }
        // More parts than detach reads: refused from the first part alone.
        assert!(part_count(b"rawbpf-run 1 257 0 0\n").is_err());
        assert!(part_count(b"rawbpf-run 1 0 0 0\n").is_err());
        assert!(part_count(b"rawbpf-run 1 99999999999999999999999 0 0\n").is_err());
        assert_eq!(part_count(b"rawbpf-run 1 256 0 0\n"), Ok(256));
    }

    #[test]
    fn part_names() {
        assert_eq!(part_name(0), "rawbpf_run");
        assert_eq!(part_name(2), "rawbpf_run-2");
        assert!(is_part_name("rawbpf_run") && is_part_name("rawbpf_run-12"));
        assert!(!is_part_name("rawbpf_run_1") && !is_part_name("rawbpf_run-"));
        assert!(!is_part_name("map_rawbpf_run"));
    }
}
