//! The record `run --pin` leaves beside its pins, as text: what it wrote,
//! and how `detach` reads it back. Pure functions of bytes; the files are
//! made and read in [`super`], and when in a run they are made is the
//! protocol of [`super`]'s module doc.
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
//! rawbpf-run 2 PARTS PINS BYTES      version 2; BYTES counts what follows this line
//! cgroup ID CREATED                  the cgroup's id (inode); CREATED below
//! KIND ATTACH_TYPE PROG_ID TAG NAME  one line per pin, PINS of them
//! ...
//! CGROUP_PATH                        last and without a newline: any byte but NUL
//! ```
//!
//! KIND is `L` a link, `A` a program attached with BPF_PROG_ATTACH (legacy),
//! `M` a map, `P` a program not attached, `N` a map pinned by name.
//! ATTACH_TYPE is decimal (0 where there is none). PROG_ID and TAG say which
//! program an `L`, `A` or `P` entry is (its kernel id, decimal, and its
//! tag, 16 hex digits, both known once it is loaded and before it is
//! attached); `0 -` for maps. A NAME is a file name in the pin directory:
//! no `/`, no newline, at most 255 bytes. CREATED is `0` (the cgroup was
//! there), `1` (`run` made it) or `2` (`run` is about to make it: ID is 0
//! and the id is in a symlink of its own, `rawbpf_run-cgroup`, whose text
//! is `rawbpf-cgroup ID MADE`, made once the cgroup is there; MADE is `0`
//! if someone else made it first). Without a cgroup ID is
//! 0 and CGROUP_PATH empty. Anything else (another first line, a part
//! count over [`MAX_PARTS`], a part missing or of the wrong length, a byte
//! count that does not match, an unknown kind) is not a record. Version 1,
//! written by rawbpf before its records came first, has lines `KIND
//! ATTACH_TYPE NAME` and no CREATED 2; it is still read.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::PinKind;

/// The first part's name; the others are `rawbpf_run-1`, `rawbpf_run-2`...
pub const HEAD: &str = "rawbpf_run";
/// The symlink that gives the id of a cgroup `run` made (CREATED `2`).
pub const CGROUP_NOTE: &str = "rawbpf_run-cgroup";
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
const VERSION: u32 = 2;
const CGROUP_MAGIC: &str = "rawbpf-cgroup";
// Whatever passes `run`'s checks fits in the parts `detach` reads.
const _: () = {
    /// The longest header and cgroup lines, and the longest pin line.
    const HEAD_LINES_MAX: usize = 64 + 32;
    const PIN_LINE_MAX: usize = 2 + 11 + 11 + 17 + NAME_MAX + 1;
    assert!(HEAD_LINES_MAX + MAX_PINS * PIN_LINE_MAX + PATH_MAX <= MAX_PARTS * PART_MAX);
};

/// Whether `run` made the recorded cgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Made {
    /// It was there already (`0`).
    No,
    /// `run` made it (`1`): `detach` removes it when it is empty.
    Yes,
    /// `run` was about to make it (`2`); [`CGROUP_NOTE`] has its id once
    /// it did.
    Pending,
}

/// Which program a pin entry is: what the kernel says of it once loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgIdent {
    /// The program's id (`bpf_prog_info.id`).
    pub id: u32,
    /// Its tag (`prog_tag`): a hash of its instructions.
    pub tag: [u8; 8],
}

/// One entry of a record: a name in the pin directory and what it is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    /// The file name in the pin directory.
    pub name: String,
    /// What is pinned there.
    pub kind: PinKind,
    /// The attach type (`enum bpf_attach_type`) of an `L` or `A`, else 0.
    pub attach_type: u32,
    /// The program of an `L`, `A` or `P` entry (None in version 1).
    pub prog: Option<ProgIdent>,
}

impl Pin {
    /// An entry for something that is not a program (or not yet known).
    pub fn new(name: String, kind: PinKind, attach_type: u32) -> Pin {
        Pin {
            name,
            kind,
            attach_type,
            prog: None,
        }
    }
}

/// What a record says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Whether `run` made the cgroup.
    pub cgroup_made: Made,
    /// The cgroup's path at `run` time; empty when there was none.
    pub cgroup_path: PathBuf,
    /// The cgroup's id (its inode number); 0 when there was none or it is
    /// not known yet ([`Made::Pending`]).
    pub cgroup_id: u64,
    /// One entry per name `run` pins or may pin.
    pub pins: Vec<Pin>,
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

/// Whether `name` is one of the record's files: a part or [`CGROUP_NOTE`].
pub fn is_record_name(name: &str) -> bool {
    is_part_name(name) || name == CGROUP_NOTE
}

/// The text of [`CGROUP_NOTE`] for the cgroup `id`, which `run` made or
/// (when someone made it just before) found.
pub fn cgroup_note(id: u64, made: bool) -> String {
    format!("{CGROUP_MAGIC} {id} {}", u8::from(made))
}

/// The cgroup id a [`CGROUP_NOTE`] text gives, and whether `run` made it.
pub fn parse_cgroup_note(text: &[u8]) -> Result<(u64, bool), String> {
    let words = std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.strip_prefix(CGROUP_MAGIC)?.strip_prefix(' '))
        .map(|t| t.split(' ').collect::<Vec<_>>());
    match words.as_deref() {
        Some([id, made @ ("0" | "1")]) => match decimal(id) {
            Some(id) if id != 0 => Ok((id, *made == "1")),
            _ => Err(format!("{CGROUP_NOTE} is not rawbpf's note of a cgroup id")),
        },
        _ => Err(format!("{CGROUP_NOTE} is not rawbpf's note of a cgroup id")),
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
    } else if name.bytes().any(|b| matches!(b, b'/' | b'\n' | 0)) {
        Some("holds a '/', a newline or a NUL")
    } else if is_record_name(name) {
        Some("is the name of rawbpf's record")
    } else {
        None
    }
}

fn hex(tag: &[u8; 8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(16);
    for &b in tag {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

fn unhex(s: &str) -> Option<[u8; 8]> {
    if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 8];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
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
    let created = match record.cgroup_made {
        Made::No => 0,
        Made::Yes => 1,
        Made::Pending => 2,
    };
    // One buffer for every line: a record names hundreds of pins.
    let mut body = format!("cgroup {} {created}\n", record.cgroup_id);
    for pin in &record.pins {
        if let Some(why) = bad_name(&pin.name) {
            return Err(format!("the pin name {:?} {why}", pin.name));
        }
        let _ = write!(body, "{} {} ", pin.kind.letter(), pin.attach_type);
        match &pin.prog {
            Some(p) => {
                let _ = write!(body, "{} {} ", p.id, hex(&p.tag));
            }
            None => body.push_str("0 - "),
        }
        body.push_str(&pin.name);
        body.push('\n');
    }
    let mut body = body.into_bytes();
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
    let (_, fields) = header(line)?;
    Ok(fields[0])
}

/// `rawbpf-run VERSION PARTS PINS BYTES`: VERSION, [PARTS, PINS, BYTES].
fn header(line: &[u8]) -> Result<(u32, [usize; 3]), String> {
    let line = std::str::from_utf8(line).map_err(|_| "it is not rawbpf's record".to_string())?;
    let not_ours = || "it is not rawbpf's record".to_string();
    let mut words = line.split(' ');
    if words.next() != Some(MAGIC) {
        return Err(not_ours());
    }
    let version = match words.next().and_then(decimal) {
        Some(v @ (1 | 2)) => v as u32,
        Some(v) => return Err(format!("it is a record of version {v}, not 1 or {VERSION}")),
        None => return Err(not_ours()),
    };
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
    Ok((version, out))
}

/// A decimal number: ASCII digits only, no sign or space.
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// PROG_ID and TAG: `0 -` for none, else a non-zero id and 16 hex digits.
fn prog_ident(id: &str, tag: &str) -> Option<Option<ProgIdent>> {
    match (decimal(id)?, tag) {
        (0, "-") => Some(None),
        (0, _) => None,
        (id, tag) => Some(Some(ProgIdent {
            id: u32::try_from(id).ok()?,
            tag: unhex(tag)?,
        })),
    }
}

/// One pin line of a record of `version`.
fn pin_line(l: &str, version: u32, i: usize) -> Result<Pin, String> {
    let damaged = |what: &str| format!("it is damaged (pin {i} {what})");
    let fields = if version == 1 { 3 } else { 5 };
    let words: Vec<&str> = l.splitn(fields, ' ').collect();
    if words.len() != fields {
        return Err(damaged("is not KIND ATTACH_TYPE PROG_ID TAG NAME"));
    }
    let kind = PinKind::from_letter(words[0])
        .ok_or_else(|| damaged(&format!("has an unknown kind {:?}", words[0])))?;
    let attach_type = decimal(words[1])
        .and_then(|t| u32::try_from(t).ok())
        .ok_or_else(|| damaged("has a bad attach type"))?;
    let (prog, name) = match words[2..] {
        [name] => (None, name),
        [id, tag, name] => (
            prog_ident(id, tag).ok_or_else(|| damaged("has a bad program id or tag"))?,
            name,
        ),
        _ => return Err(damaged("has too many fields")),
    };
    if let Some(why) = bad_name(name) {
        return Err(damaged(&format!("has a name that {why}")));
    }
    Ok(Pin {
        name: name.to_string(),
        kind,
        attach_type,
        prog,
    })
}

/// Reads a record from its parts' target texts joined in order; `parts` is
/// how many there were (each but the last exactly [`PART_MAX`] bytes).
pub fn decode(text: &[u8], parts: usize) -> Result<Record, String> {
    let damaged = |what: &str| format!("it is damaged ({what})");
    let (first, mut rest) = split_line(text).ok_or_else(|| damaged("no first line"))?;
    let (version, [said_parts, pins, bytes]) = header(first)?;
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
    let (cgroup_id, cgroup_made) = match line()?.split(' ').collect::<Vec<_>>()[..] {
        ["cgroup", id, "0"] => (decimal(id), Made::No),
        ["cgroup", id, "1"] => (decimal(id), Made::Yes),
        ["cgroup", id, "2"] if version >= 2 => (decimal(id), Made::Pending),
        _ => return Err(damaged("no cgroup line")),
    };
    let cgroup_id = cgroup_id.ok_or_else(|| damaged("a bad cgroup id"))?;
    let mut out = Vec::new();
    for i in 0..pins {
        out.push(pin_line(line()?, version, i)?);
    }
    let cgroup_path = PathBuf::from(OsStr::from_bytes(rest));
    let consistent = match cgroup_made {
        Made::Pending => cgroup_id == 0 && !rest.is_empty(),
        Made::Yes => cgroup_id != 0 && !rest.is_empty(),
        Made::No => (cgroup_id == 0) == rest.is_empty(),
    };
    if !consistent {
        return Err(damaged("the cgroup's id and path disagree"));
    }
    Ok(Record {
        cgroup_made,
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
            cgroup_made: if id != 0 { Made::Yes } else { Made::No },
            cgroup_path: PathBuf::from(OsStr::from_bytes(path)),
            cgroup_id: id,
            pins: pins
                .iter()
                .map(|&(n, k, t)| Pin::new(n.to_string(), k, t))
                .collect(),
        }
    }

    fn decode_parts(parts: &[Vec<u8>]) -> Result<Record, String> {
        decode(&parts.concat(), parts.len())
    }

    #[test]
    fn the_text_is_as_documented() {
        let mut r = record(
            &[
                ("map_hmap", PinKind::Map, 0),
                ("link_bpf_prog1", PinKind::Link, 1),
                ("counts", PinKind::ByName, 0),
            ],
            b"/sys/fs/cgroup/rawbpf",
            4242,
        );
        r.pins[1].prog = Some(ProgIdent {
            id: 77,
            tag: [0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 0xff],
        });
        let parts = encode(&r).unwrap();
        let body = "cgroup 4242 1\nM 0 0 - map_hmap\nL 1 77 deadbeef000102ff link_bpf_prog1\n\
                    N 0 0 - counts\n/sys/fs/cgroup/rawbpf";
        let want = format!("rawbpf-run 2 1 3 {}\n{body}", body.len());
        assert_eq!(parts, [want.into_bytes()]);
        assert_eq!(part_count(&parts[0]), Ok(1));
        assert_eq!(decode_parts(&parts), Ok(r));
    }

    #[test]
    fn no_cgroup_is_id_zero_and_an_empty_path() {
        let r = record(&[("prog_x", PinKind::Program, 0)], b"", 0);
        let parts = encode(&r).unwrap();
        assert!(parts[0].ends_with(b"cgroup 0 0\nP 0 0 - prog_x\n"));
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
            text.replace("rawbpf-run 2", "rawbpf-run 3"),
            text.replace("M 0 0 -", "M 0 0 0011223344556677"),
            text.replace("M 0 0 -", "M 0 5 -"),
            text.replace("M 0 0 -", "M 0 5 00112233445566"),
            text.replace("M 0 0 -", "M 0 0"),
            text.replace("cgroup 5 1", "cgroup 5 2"),
            text.replace("M 0", "Q 0"),
            text.replace("M 0", "M -1"),
            text.replace("M 0", "M 4294967296"),
            text.replace("M 0", "M +0"),
            text.replace("cgroup 5 1", "cgroup x 1"),
            text.replace("cgroup 5 1", "cgroup 0 1"),
            text.replace("/cg", ""),
            text.replace("/cg", "/cgroup"),
            text.replace("rawbpf-run 2 1 ", "rawbpf-run 2 2 "),
            text.replace("rawbpf-run 2 1 ", "rawbpf-run 2 0 "),
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
    fn a_cgroup_about_to_be_made_has_no_id_yet() {
        let mut r = record(&[("link_x", PinKind::Link, 2)], b"/cg/rawbpf", 0);
        r.cgroup_made = Made::Pending;
        let parts = encode(&r).unwrap();
        assert!(parts[0].starts_with(b"rawbpf-run 2 1 1 "));
        assert_eq!(decode_parts(&parts), Ok(r));
        assert_eq!(
            parse_cgroup_note(cgroup_note(4242, true).as_bytes()),
            Ok((4242, true))
        );
        assert_eq!(parse_cgroup_note(b"rawbpf-cgroup 7 0"), Ok((7, false)));
        for bad in [
            "rawbpf-cgroup 0 1",
            "rawbpf-cgroup 5",
            "rawbpf-cgroup x 1",
            "cgroup 5 1",
        ] {
            assert!(parse_cgroup_note(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(bad_name(CGROUP_NOTE).is_some());
    }

    #[test]
    fn a_version_1_record_is_still_read() {
        let body = "cgroup 9 0\nA 1 prog_p\nM 0 map_m\n/cg";
        let text = format!("rawbpf-run 1 1 2 {}\n{body}", body.len());
        let r = decode(text.as_bytes(), 1).unwrap();
        assert_eq!(r.cgroup_made, Made::No);
        assert_eq!(r.pins[0], Pin::new("prog_p".into(), PinKind::Legacy, 1));
        assert_eq!(r.pins[1], Pin::new("map_m".into(), PinKind::Map, 0));
        // Version 1 had no CREATED 2.
        let pending = text.replace("cgroup 9 0", "cgroup 0 2");
        assert!(decode(pending.as_bytes(), 1).is_err());
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
