//! The kernel's own BTF, read lean: only the names an object asks for.
//!
//! `/sys/kernel/btf/vmlinux` describes every type of the running kernel:
//! about 5 MB and 100,000+ types. libbpf reads it whole and indexes every
//! type, which is most of its start-up time and memory. A loader needs far
//! less: the few types its CO-RE relocations start from (found by name),
//! what those types' members point to (found by id), and the functions its
//! programs attach to. So this reader
//!
//! 1. reads the header and streams the string section in small chunks,
//!    noting the offsets of the strings whose essential name (see
//!    [`essential_name`]) is one of the wanted names;
//! 2. streams the type section once, keeping the file offset of every
//!    type's record (4 bytes a type; the BTF id is the position) and, for
//!    types whose name offset was noted, the id as a candidate;
//! 3. afterwards reads single records and strings with `pread` on demand,
//!    with a small cache.
//!
//! Since 6.16 the kernel lets the file be mapped (`btf_sysfs_vmlinux_mmap`
//! maps the kernel's own pages, read-only, at mmap time: no copy, no page
//! fault; the perf profile of a load shows `remap_pfn_range` at the mmap).
//! Then there is one pass only, over the types, each name looked at where
//! it lies, its first two bytes first, and the index keeps one offset in 32
//! (`MAPPED_STRIDE`): a record is found from the nearest kept one by
//! stepping over at most 31 headers in memory, which costs less than
//! noting 100,000 offsets nobody asks for.
//!
//! What a record means is not this reader's business: it finds records
//! with [`scan_records`] and decodes them with [`Type::decode`], and answers
//! through [`BtfSource`], the same model the object's own BTF is read
//! through ([`crate::object::btf::types`]), so the walks CO-RE makes over
//! either are written once.
//!
//! A kernel module's BTF (`/sys/kernel/btf/<module>`) is *split* BTF: its
//! type ids continue after vmlinux's last id and its string offsets after
//! vmlinux's string section, so a module view looks up low ids and offsets
//! in vmlinux and the rest in the module file. Modules are read only when
//! vmlinux has no candidate for a name (as libbpf does), and never when the
//! target is a BTF file given with `--btf`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::object::btf::types::{record_len, scan_records, u32_at, HEADER_LEN, TYPE_HEADER_LEN};
use crate::object::btf::{essential_name, BtfSource, Header, Type};
use crate::object::core::insert_sorted;

/// The running kernel's BTF.
pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";
/// Where the kernel publishes its BTF and its modules'.
pub const BTF_DIR: &str = "/sys/kernel/btf";

/// Size of the chunks the sections are streamed in.
const CHUNK: usize = 64 * 1024;
/// Longest string read (kernel symbol names are far shorter).
const MAX_STR: usize = 4096;
/// One record offset kept in this many when the file is mapped (see the
/// module doc); streamed, every offset is kept, as each step would be a
/// read.
const MAPPED_STRIDE: u32 = 32;

/// One BTF file: vmlinux (or a `--btf` file), or a module's split BTF.
#[derive(Debug)]
struct Part {
    file: File,
    /// The whole file mapped, where the kernel allows it (sysfs BTF since
    /// 6.16): read from memory instead of 4 KB per pread.
    map: Option<crate::sys::SysfsMap>,
    label: String,
    /// The first type id this file defines (1 for vmlinux).
    first_id: u32,
    /// String offsets below this are the base's (0 for vmlinux).
    str_base: u32,
    str_pos: u64,
    str_len: u32,
    type_pos: u64,
    type_len: u32,
    /// How many types this file defines.
    count: u32,
    /// One offset in `stride`: `index[k]` is where type `first_id + k *
    /// stride` starts in the type section.
    index: Vec<u32>,
    stride: u32,
}

/// One step of [`Part::stream`]: a window of a section and its offset in it
/// in, the bytes consumed out.
type Step<'a> = dyn FnMut(&[u8], u32) -> std::result::Result<usize, String> + 'a;

/// Candidates found while streaming: (index into the wanted names, type id).
type Cands = Vec<(u32, u32)>;

impl Part {
    /// `buf.len()` bytes at `offset` of the file: from the mapping if there
    /// is one, else with pread.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let Some(map) = &self.map else {
            return self.file.read_exact_at(buf, offset);
        };
        let bytes = usize::try_from(offset)
            .ok()
            .and_then(|start| map.bytes().get(start..start.checked_add(buf.len())?))
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    /// Hands the `len` bytes at `pos` to `step` in windows, each starting
    /// with what the previous `step` left unconsumed; `step` gets a window
    /// and its offset in the section and returns how many bytes it
    /// consumed. From the mapping the whole section is one window and
    /// nothing is copied; else windows of CHUNK bytes (plus up to `room`
    /// carried over: the longest item) are read with pread. Returns how many
    /// bytes were left unconsumed at the end.
    fn stream(
        &self,
        pos: u64,
        len: u32,
        room: usize,
        step: &mut Step<'_>,
    ) -> std::result::Result<usize, String> {
        if let Some(map) = &self.map {
            let data = usize::try_from(pos)
                .ok()
                .and_then(|start| map.bytes().get(start..start.checked_add(len as usize)?))
                .ok_or("the section lies outside the file")?;
            return Ok(data.len() - step(data, 0)?.min(data.len()));
        }
        let mut buf = vec![0u8; CHUNK + room];
        let mut carry = 0usize;
        let mut read: u32 = 0;
        while read < len {
            let n = (buf.len() - carry).min((len - read) as usize);
            self.read_exact_at(&mut buf[carry..carry + n], pos + u64::from(read))
                .map_err(|e| format!("reading at {}: {e}", pos + u64::from(read)))?;
            let base = read - carry as u32; // offset of buf[0] in the section
            read += n as u32;
            let used = step(&buf[..carry + n], base)?.min(carry + n);
            carry = carry + n - used;
            buf.copy_within(used..used + carry, 0);
        }
        Ok(carry)
    }

    /// Opens a BTF file: its header, then one pass over strings and types
    /// (see the module doc). `base` is vmlinux's part when this is a
    /// module's split BTF.
    fn open(
        path: &Path,
        label: String,
        base: Option<&Part>,
        wanted: &[String],
    ) -> Result<(Part, Cands)> {
        let bad = |what: String| Error::Btf(format!("{}: {what}", path.display()));
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut hdr = [0u8; HEADER_LEN];
        file.read_exact_at(&mut hdr, 0)
            .map_err(|e| Error::io(path, e))?;
        let header = Header::parse(&hdr).map_err(bad)?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        header.check_within(file_len).map_err(bad)?;
        let (first_id, str_base) = match base {
            Some(b) => (b.first_id + b.count, b.str_base + b.str_len),
            None => (1, 0),
        };
        let map = usize::try_from(file_len)
            .ok()
            .and_then(|len| crate::sys::map_sysfs_file(std::os::fd::AsFd::as_fd(&file), len));
        let mut part = Part {
            file,
            map,
            label,
            first_id,
            str_base,
            str_pos: header.str_start(),
            str_len: header.str_len,
            type_pos: header.type_start(),
            type_len: header.type_len,
            count: 0,
            index: Vec::new(),
            stride: 1,
        };
        let cands = part.index_types(base.is_none(), wanted).map_err(bad)?;
        Ok((part, cands))
    }

    /// Fills the index and finds the wanted candidates. Mapped (and not
    /// split): one pass over the types, each name looked at where it lies,
    /// first byte first. Streamed: the wanted names' offsets first, then the
    /// types.
    fn index_types(
        &mut self,
        whole: bool,
        wanted: &[String],
    ) -> std::result::Result<Cands, String> {
        let mapped_strings = match &self.map {
            Some(map) if whole => usize::try_from(self.str_pos)
                .ok()
                .and_then(|at| map.bytes().get(at..at.checked_add(self.str_len as usize)?)),
            _ => None,
        };
        let offsets;
        let range = first_byte_ranges(wanted);
        let wanted_at = match mapped_strings {
            Some(strings) => {
                self.stride = MAPPED_STRIDE;
                WantedAt::Mapped {
                    strings,
                    prefixes: Prefixes::of(wanted),
                    range: &range,
                    wanted,
                }
            }
            None => {
                offsets = self.scan_strings(wanted)?;
                WantedAt::Offsets(&offsets)
            }
        };
        let (cands, index, count) = self.scan_types(&wanted_at)?;
        self.index = index;
        self.count = count;
        Ok(cands)
    }

    /// Pass 1: offsets (as type records name them) of the strings whose
    /// essential name is wanted, in increasing order, with the wanted name's
    /// index.
    fn scan_strings(&self, wanted: &[String]) -> std::result::Result<Vec<(u32, u32)>, String> {
        let mut found = Vec::new();
        if wanted.is_empty() {
            return Ok(found);
        }
        let range = first_byte_ranges(wanted);
        let check = |data: &[u8], pos: usize, base: u32, found: &mut Vec<(u32, u32)>| {
            check_string(data, pos, base, &range, wanted, found)
        };
        let hot = |b: u8| range[usize::from(b)].0 != range[usize::from(b)].1;
        let str_base = self.str_base;
        self.stream(self.str_pos, self.str_len, MAX_STR, &mut |data, off| {
            let base = str_base + off; // string offset of data[0]
            let Some(last) = data.iter().rposition(|&b| b == 0) else {
                return Err(format!(
                    "a string at offset {base} is longer than {MAX_STR} bytes"
                ));
            };
            // data[0] starts a string; so does every byte after a NUL. NULs
            // are found a word at a time (a zero byte sets its high bit in
            // `(w - 0x01..) & !w & 0x80..`; a 0x01 right after a zero may
            // too, hence the check of the byte itself).
            if hot(data[0]) {
                check(data, 0, base, &mut found);
            }
            let mut i = 0;
            while i + 8 <= last {
                let w = u64::from_le_bytes(data[i..i + 8].try_into().unwrap_or_default());
                let mut z = w.wrapping_sub(0x0101_0101_0101_0101) & !w & 0x8080_8080_8080_8080;
                while z != 0 {
                    let p = i + (z.trailing_zeros() / 8) as usize;
                    z &= z - 1;
                    if data[p] == 0 && p < last && hot(data[p + 1]) {
                        check(data, p + 1, base, &mut found);
                    }
                }
                i += 8;
            }
            for p in i..last {
                if data[p] == 0 && hot(data[p + 1]) {
                    check(data, p + 1, base, &mut found);
                }
            }
            Ok(last + 1)
        })?;
        Ok(found)
    }

    /// Pass 2: the record offset of every `stride`-th type, the number of
    /// types, and the wanted ones: `wanted_at` says which wanted name a name
    /// offset is, if any.
    fn scan_types(
        &self,
        wanted_at: &WantedAt<'_>,
    ) -> std::result::Result<(Cands, Vec<u32>, u32), String> {
        let mut cands = Vec::new();
        // Most vmlinux types take 16 to 40 bytes.
        let mut index = Vec::with_capacity(self.type_len as usize / 24 / self.stride as usize);
        let first_id = self.first_id;
        // A power of two (1 or MAPPED_STRIDE): a mask, not a division, per
        // record.
        let kept = self.stride - 1;
        debug_assert!(self.stride.is_power_of_two());
        let mut count: u32 = 0;
        // The largest record: 12 bytes and 65535 members of 12 bytes.
        let room = TYPE_HEADER_LEN + 12 * 0xffff;
        let left = self.stream(self.type_pos, self.type_len, room, &mut |data, base| {
            let used = scan_records(data, |p, name_off| {
                if name_off != 0 {
                    if let Some(w) = wanted_at.at(name_off) {
                        cands.push((w, first_id + count));
                    }
                }
                if count & kept == 0 {
                    index.push(base + p as u32);
                }
                count += 1;
            });
            used.map_err(|k| format!("type {} has unknown kind {k}", first_id + count))
        })?;
        if left != 0 {
            return Err("the last type runs past the type section".into());
        }
        index.shrink_to_fit();
        Ok((cands, index, count))
    }

    /// Whether this file defines type `id`.
    fn has(&self, id: u32) -> bool {
        id >= self.first_id && id - self.first_id < self.count
    }

    /// The length of the record at `off` of the type section, from its
    /// header.
    fn record_len_at(&self, off: u32) -> std::result::Result<u32, String> {
        let mut header = [0u8; TYPE_HEADER_LEN];
        self.read_exact_at(&mut header, self.type_pos + u64::from(off))
            .map_err(|e| e.to_string())?;
        let info = u32_at(&header, 4).unwrap_or_default();
        let len = record_len(info).map_err(|k| format!("unknown kind {k}"))?;
        Ok(len as u32)
    }

    /// Reads type record `id` (which this file defines): from the nearest
    /// indexed record, over the headers between, then the record itself.
    fn read_type(&self, id: u32) -> Result<Type<'static>> {
        let bad = |what: String| Error::Btf(format!("{}: type {id}: {what}", self.label));
        if !self.has(id) {
            return Err(bad("does not exist".into()));
        }
        let i = id - self.first_id;
        let mut off = self.index[(i / self.stride) as usize];
        for _ in 0..i % self.stride {
            let len = self.record_len_at(off).map_err(bad)?;
            off = off
                .checked_add(len)
                .ok_or_else(|| bad("lies past the type section".into()))?;
        }
        let len = self.record_len_at(off).map_err(bad)?;
        let mut rec = vec![0u8; len as usize];
        self.read_exact_at(&mut rec, self.type_pos + u64::from(off))
            .map_err(|e| bad(e.to_string()))?;
        let t = Type::decode(&rec).map_err(|e| bad(e.to_string()))?;
        Ok(t.into_owned())
    }

    /// Reads the string at `off` (an offset this file defines).
    fn read_string(&self, off: u32) -> Result<String> {
        let bad = |what: &str| Error::Btf(format!("{}: string {off}: {what}", self.label));
        let rel = off - self.str_base;
        if rel >= self.str_len {
            return Err(bad("past the string section"));
        }
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        let mut at = rel;
        while at < self.str_len && out.len() < MAX_STR {
            let n = buf.len().min((self.str_len - at) as usize);
            self.read_exact_at(&mut buf[..n], self.str_pos + u64::from(at))
                .map_err(|e| bad(&e.to_string()))?;
            if let Some(end) = buf[..n].iter().position(|&b| b == 0) {
                out.extend_from_slice(&buf[..end]);
                return String::from_utf8(out).map_err(|_| bad("not UTF-8"));
            }
            out.extend_from_slice(&buf[..n]);
            at += n as u32;
        }
        Err(bad("no terminating NUL"))
    }
}

/// Which wanted name a type's name offset is, if any.
enum WantedAt<'a> {
    /// The string section in memory: look at the name itself, its first
    /// two bytes first.
    Mapped {
        strings: &'a [u8],
        prefixes: Box<Prefixes>,
        range: &'a [(u32, u32); 256],
        wanted: &'a [String],
    },
    /// The offsets of the wanted names, found by a pass over the strings.
    Offsets(&'a [(u32, u32)]),
}

impl WantedAt<'_> {
    #[inline(always)]
    fn at(&self, off: u32) -> Option<u32> {
        match self {
            WantedAt::Mapped {
                strings,
                prefixes,
                range,
                wanted,
            } => {
                let at = off as usize;
                match strings.get(at..at.checked_add(2)?) {
                    Some(&[b0, b1]) if prefixes.has(b0, b1) => {
                        first_hit(strings, at, range, wanted)
                    }
                    _ => None,
                }
            }
            WantedAt::Offsets(offsets) => {
                let i = offsets.binary_search_by_key(&off, |&(o, _)| o).ok()?;
                Some(offsets[i].1)
            }
        }
    }
}

/// The first two bytes of the wanted names, a bit for each of the 65,536
/// pairs: one look rules out nearly every kernel name (most share a first
/// byte with some wanted name, "s" above all, far fewer the first two). A
/// one-byte name `x` is found as "x" and as a flavour "x___...".
struct Prefixes([u64; 1024]);

impl Prefixes {
    fn of(wanted: &[String]) -> Box<Prefixes> {
        let mut p = Box::new(Prefixes([0; 1024]));
        for w in wanted {
            match *w.as_bytes() {
                [] => {}
                [b0] => {
                    p.set(b0, 0);
                    p.set(b0, b'_');
                }
                [b0, b1, ..] => p.set(b0, b1),
            }
        }
        p
    }

    fn set(&mut self, b0: u8, b1: u8) {
        let pair = usize::from(b0) << 8 | usize::from(b1);
        self.0[pair / 64] |= 1 << (pair % 64);
    }

    #[inline(always)]
    fn has(&self, b0: u8, b1: u8) -> bool {
        let pair = usize::from(b0) << 8 | usize::from(b1);
        self.0[pair / 64] & (1 << (pair % 64)) != 0
    }
}

/// `wanted` is sorted, so names with the same first byte are neighbours:
/// `range[b]` is where those starting with byte b lie. Most strings start
/// with a byte no wanted name starts with and are skipped after one look.
fn first_byte_ranges(wanted: &[String]) -> [(u32, u32); 256] {
    let mut range = [(0u32, 0u32); 256];
    for (i, w) in wanted.iter().enumerate() {
        if let Some(&b) = w.as_bytes().first() {
            let r = &mut range[usize::from(b)];
            if r.1 == 0 {
                r.0 = i as u32;
            }
            r.1 = i as u32 + 1;
        }
    }
    range
}

/// Whether the string at `data[pos]` (which ends with a NUL inside `data`)
/// has a wanted essential name; if so its offset (`base + pos`) and the
/// name's index are pushed to `found`. `range` is [`first_byte_ranges`].
#[inline(never)]
fn check_string(
    data: &[u8],
    pos: usize,
    base: u32,
    range: &[(u32, u32); 256],
    wanted: &[String],
    found: &mut Vec<(u32, u32)>,
) {
    let (lo, hi) = range[usize::from(data[pos])];
    for (w, name) in wanted[lo as usize..hi as usize].iter().enumerate() {
        let name = name.as_bytes();
        let end = pos + name.len();
        if data.get(pos..end) != Some(name) {
            continue;
        }
        let hit = match data.get(end) {
            Some(0) => true,
            // A flavour ("name___x"): the whole string's essential name.
            Some(b'_') => std::ffi::CStr::from_bytes_until_nul(&data[pos..])
                .ok()
                .and_then(|s| std::str::from_utf8(s.to_bytes()).ok())
                .is_some_and(|s| essential_name(s).len() == name.len()),
            _ => false,
        };
        if hit {
            found.push((base + pos as u32, lo + w as u32));
        }
    }
}

/// The index of the wanted name the string at `strings[pos]` is, if any.
#[inline(never)]
fn first_hit(
    strings: &[u8],
    pos: usize,
    range: &[(u32, u32); 256],
    wanted: &[String],
) -> Option<u32> {
    let mut hit = Vec::new();
    check_string(strings, pos, 0, range, wanted, &mut hit);
    hit.first().map(|&(_, w)| w)
}

/// What was read on demand, sorted by id or offset: the same members and
/// names are asked for again for every relocation into a struct.
#[derive(Debug)]
struct Cache<T>(RefCell<Vec<(u32, T)>>);

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Cache(RefCell::default())
    }
}

impl<T: Clone> Cache<T> {
    /// The value cached for `key`, read with `read` on first use.
    fn get(&self, key: u32, read: impl FnOnce() -> Result<T>) -> Result<T> {
        let at = match self.0.borrow().binary_search_by_key(&key, |e| e.0) {
            Ok(i) => return Ok(self.0.borrow()[i].1.clone()),
            Err(at) => at,
        };
        let value = read()?;
        self.0.borrow_mut().insert(at, (key, value.clone()));
        Ok(value)
    }
}

/// One BTF file, indexed for the wanted names, with what was read from it.
#[derive(Debug)]
struct Indexed {
    part: Part,
    /// The wanted essential names, sorted.
    wanted: Vec<String>,
    cands: Cands,
    types: Cache<Type<'static>>,
    strings: Cache<String>,
}

impl Indexed {
    /// Opens `path` (a module's split BTF on `base`) for `wanted` (sorted).
    fn open(path: &Path, label: String, base: Option<&Part>, wanted: Vec<String>) -> Result<Self> {
        let (part, cands) = Part::open(path, label, base, &wanted)?;
        Ok(Indexed {
            part,
            wanted,
            cands,
            types: Cache::default(),
            strings: Cache::default(),
        })
    }

    /// Type `id`, which this file defines.
    fn ty(&self, id: u32) -> Result<Type<'static>> {
        self.types.get(id, || self.part.read_type(id))
    }

    /// The string at `off`, which this file defines.
    fn string(&self, off: u32) -> Result<String> {
        self.strings.get(off, || self.part.read_string(off))
    }

    /// The candidates for essential name `essential`.
    fn candidates(&self, essential: &str) -> Vec<u32> {
        match self.wanted.binary_search_by(|w| w.as_str().cmp(essential)) {
            Ok(w) => self
                .cands
                .iter()
                .filter(|&&(c, _)| c == w as u32)
                .map(|&(_, id)| id)
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// `names` sorted, without duplicates.
fn sorted(names: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for name in names {
        insert_sorted(&mut out, name);
    }
    out
}

/// The id of the type of `kind` named exactly `name` among the candidates
/// of `file`, read through `src`. A name `file` was not indexed for is an
/// error, not "absent": the reader would not have seen it even if the
/// kernel has it.
fn find_in(src: &dyn BtfSource, file: &Indexed, kind: u8, name: &str) -> Result<Option<u32>> {
    let essential = essential_name(name);
    if file
        .wanted
        .binary_search_by(|w| w.as_str().cmp(essential))
        .is_err()
    {
        return Err(Error::Btf(format!("{}: '{name}' not indexed", src.label())));
    }
    for id in src.candidates(essential)? {
        let t = src.ty(id)?;
        if t.kind == kind && src.string(t.name_off)? == name {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// A kernel BTF (vmlinux, or a whole-kernel BTF file), indexed for the
/// wanted names only.
#[derive(Debug)]
pub struct KernelBtf {
    file: Indexed,
    /// Whether this is the running kernel's (so modules may be searched).
    running: bool,
}

impl KernelBtf {
    /// The running kernel's BTF, indexed for `wanted` essential names.
    pub fn vmlinux(wanted: &[String]) -> Result<KernelBtf> {
        let mut k = KernelBtf::open(Path::new(VMLINUX), wanted)?;
        k.running = true;
        Ok(k)
    }

    /// A whole-kernel BTF file (e.g. another kernel's vmlinux BTF, for
    /// `run --btf FILE`), indexed for `wanted` essential names.
    pub fn open(path: &Path, wanted: &[String]) -> Result<KernelBtf> {
        let label = match path.to_str() {
            Some(VMLINUX) => "vmlinux".to_string(),
            _ => path.display().to_string(),
        };
        Ok(KernelBtf {
            file: Indexed::open(path, label, None, sorted(wanted))?,
            running: false,
        })
    }

    /// Number of type ids, `void` included.
    pub fn len(&self) -> usize {
        self.file.part.count as usize + 1
    }

    /// Whether the BTF has no types besides `void`.
    pub fn is_empty(&self) -> bool {
        self.file.part.count == 0
    }

    /// The id of the type of `kind` named exactly `name` (which must have
    /// been among the wanted names), e.g. a FUNC to attach to.
    pub fn find(&self, kind: u8, name: &str) -> Result<Option<u32>> {
        find_in(self, &self.file, kind, name)
    }

    /// The split BTF of every loaded module that has a candidate for one of
    /// `wanted`. Empty unless this is the running kernel's BTF.
    pub fn modules(&self, wanted: &[String]) -> Result<Vec<ModuleBtf<'_>>> {
        let mut out = Vec::new();
        if !self.running || wanted.is_empty() {
            return Ok(out);
        }
        let wanted = sorted(wanted);
        for name in module_names()? {
            let path = Path::new(BTF_DIR).join(&name);
            let file = Indexed::open(&path, name.clone(), Some(&self.file.part), wanted.clone())?;
            if !file.cands.is_empty() {
                out.push(ModuleBtf {
                    base: self,
                    name,
                    file,
                });
            }
        }
        Ok(out)
    }
}

/// The modules that publish BTF, sorted: every file under
/// /sys/kernel/btf but vmlinux.
fn module_names() -> Result<Vec<String>> {
    let dir = std::fs::read_dir(BTF_DIR).map_err(|e| Error::io(BTF_DIR, e))?;
    let mut names = Vec::new();
    for name in dir
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
    {
        if name != "vmlinux" {
            insert_sorted(&mut names, &name);
        }
    }
    Ok(names)
}

impl BtfSource for KernelBtf {
    fn ty(&self, id: u32) -> Result<Type<'_>> {
        if id == 0 {
            return Ok(Type::VOID);
        }
        self.file.ty(id)
    }

    fn string(&self, off: u32) -> Result<Cow<'_, str>> {
        if off == 0 {
            return Ok(Cow::Borrowed(""));
        }
        self.file.string(off).map(Cow::Owned)
    }

    fn candidates(&self, essential: &str) -> Result<Vec<u32>> {
        Ok(self.file.candidates(essential))
    }

    fn label(&self) -> String {
        self.file.part.label.clone()
    }
}

/// A module's split BTF on top of vmlinux's.
#[derive(Debug)]
pub struct ModuleBtf<'a> {
    base: &'a KernelBtf,
    /// The module's name (the file name under /sys/kernel/btf).
    pub name: String,
    file: Indexed,
}

impl ModuleBtf<'_> {
    /// The id of the module's type of `kind` named exactly `name`.
    pub fn find(&self, kind: u8, name: &str) -> Result<Option<u32>> {
        find_in(self, &self.file, kind, name)
    }
}

/// Low ids and string offsets are vmlinux's, the rest the module's.
impl BtfSource for ModuleBtf<'_> {
    fn ty(&self, id: u32) -> Result<Type<'_>> {
        if !self.file.part.has(id) {
            return self.base.ty(id);
        }
        self.file.ty(id)
    }

    fn string(&self, off: u32) -> Result<Cow<'_, str>> {
        if off < self.file.part.str_base {
            return self.base.string(off);
        }
        self.file.string(off).map(Cow::Owned)
    }

    fn candidates(&self, essential: &str) -> Result<Vec<u32>> {
        Ok(self.file.candidates(essential))
    }

    fn label(&self) -> String {
        format!("module {}", self.name)
    }
}

/// The BTF id of the attach target `name`, of BTF kind `btf_kind` (a FUNC
/// for fentry and lsm, the TYPEDEF `btf_trace_*` for tp_btf), in vmlinux.
pub fn attach_id(vmlinux: &KernelBtf, btf_kind: u8, name: &str) -> Result<u32> {
    vmlinux.find(btf_kind, name)?.ok_or_else(|| Error::Program {
        program: name.to_string(),
        what: format!(
            "kernel function or type '{name}' is not in {}",
            vmlinux.file.part.label
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::btf::kind;

    /// Reads the running kernel's BTF for a few names and checks it against
    /// a full parse (every kernel rawbpf is tested on has BTF).
    #[test]
    fn lean_reader_agrees_with_full_parse() {
        let bytes = std::fs::read(VMLINUX).expect("the kernel publishes its BTF");
        let full = crate::object::btf::Btf::parse(&bytes).unwrap();
        let wanted = ["sk_buff".to_string(), "bpf_lsm_file_open".to_string()];
        let k = KernelBtf::vmlinux(&wanted).unwrap();
        assert_eq!(k.len(), full.len());
        let sk = k.find(kind::STRUCT, "sk_buff").unwrap().unwrap();
        assert_eq!(Some(sk), full.find(kind::STRUCT, "sk_buff"));
        let a = k.ty(sk).unwrap();
        let b = <crate::object::btf::Btf as BtfSource>::ty(&full, sk).unwrap();
        assert_eq!(
            (a.vlen, a.size_or_type, &a.extra),
            (b.vlen, b.size_or_type, &b.extra)
        );
        assert_eq!(
            k.find(kind::FUNC, "bpf_lsm_file_open").unwrap(),
            full.find(kind::FUNC, "bpf_lsm_file_open")
        );
        // Records found from the sparse index of a mapped file: either side
        // of a kept offset, and a spread over the whole section.
        let near = (1..4u32).flat_map(|k| [k * 32 - 1, k * 32, k * 32 + 1]);
        for id in near.chain((1..full.len() as u32).step_by(997)) {
            let (x, y) = (
                k.ty(id).unwrap(),
                <crate::object::btf::Btf as BtfSource>::ty(&full, id).unwrap(),
            );
            assert_eq!(
                (x.kind, x.name_off, x.extra),
                (y.kind, y.name_off, y.extra),
                "{id}"
            );
        }
        // A name the reader was not opened for is an error, not "absent".
        assert!(k.find(kind::STRUCT, "no_such_type").is_err());
        // The last type and a member name read on demand agree too.
        let last = full.len() as u32 - 1;
        let (x, y) = (
            k.ty(last).unwrap(),
            <crate::object::btf::Btf as BtfSource>::ty(&full, last).unwrap(),
        );
        assert_eq!((x.kind, x.name_off, x.extra), (y.kind, y.name_off, y.extra));
        assert_eq!(
            k.string(x.name_off).unwrap(),
            full.name(y.name_off).unwrap()
        );
    }

    use crate::object::btf::testing::blob;

    /// Split BTF as a module has it: ids and string offsets continue after
    /// the base's, and lookups cross into the base.
    #[test]
    fn module_split_btf_continues_the_base() {
        let dir = std::env::temp_dir().join(format!("rawbpf-kbtf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let info = |k: u32, vlen: u32| (k << 24) | vlen;
        // Base: 1 int "int"; 2 struct "base_s" { int a; }.
        let base_strs = b"\0int\0base_s\0a\0"; // int@1 base_s@5 a@12
        let base = blob(
            &[1, info(1, 0), 4, 32, 5, info(4, 1), 4, 12, 1, 0],
            base_strs,
        );
        // Module: 3 struct "modtype" { struct base_s inner; int b; };
        // its strings start at the base's string length (14).
        let mod_strs = b"\0modtype\0inner\0b\0"; // modtype@15 inner@23 b@29
        let module = blob(&[15, info(4, 2), 8, 23, 2, 0, 29, 1, 32], mod_strs);
        std::fs::write(dir.join("vmlinux"), &base).unwrap();
        std::fs::write(dir.join("mod"), &module).unwrap();
        let wanted = ["modtype".to_string(), "base_s".to_string()];
        let k = KernelBtf::open(&dir.join("vmlinux"), &wanted).unwrap();
        assert_eq!(k.find(kind::STRUCT, "base_s").unwrap(), Some(2));
        assert_eq!(k.candidates("modtype").unwrap(), [] as [u32; 0]);
        let file = Indexed::open(
            &dir.join("mod"),
            "mod".into(),
            Some(&k.file.part),
            k.file.wanted.clone(),
        )
        .unwrap();
        let m = ModuleBtf {
            base: &k,
            name: "mod".into(),
            file,
        };
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(m.find(kind::STRUCT, "modtype").unwrap(), Some(3));
        let t = m.ty(3).unwrap();
        assert_eq!((t.kind, t.vlen, t.size_or_type), (kind::STRUCT, 2, 8));
        assert_eq!(m.string(t.name_off).unwrap(), "modtype");
        // Member types resolve into the base, member names into the module.
        assert_eq!(m.ty(2).unwrap().kind, kind::STRUCT);
        assert_eq!(m.string(29).unwrap(), "b");
        assert_eq!(m.string(1).unwrap(), "int");
        assert!(m.ty(4).is_err());
        assert!(m.string(40).is_err());
    }
}
