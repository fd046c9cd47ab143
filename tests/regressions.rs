//! Replays the fuzzing regression corpus and hand-made hostile objects
//! through the same functions as the fuzz targets (fuzz/src/lib.rs): an
//! error is fine; a panic, a stack overflow, a hang or memory far beyond the
//! input's size is not. No root needed.
//!
//! tests/corpus/<target>/ holds inputs the fuzzers found (or that were built
//! for a class of bug named in the file name); each runs through the target
//! of its directory's name. Add a finding by copying it there from
//! fuzz/target/artifacts/<target>/.

#[path = "../fuzz/src/lib.rs"]
mod harness;

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rawbpf::object::btf::{Btf, BtfExt};

/// How long one input may take in an unoptimized test build. Every input
/// here takes milliseconds when the walks are bounded.
const TIME_LIMIT: Duration = Duration::from_secs(10);

/// Runs `f(data)` on its own thread and fails if it panics or does not
/// return within [`TIME_LIMIT`]. (A stack overflow aborts the whole test
/// binary, which fails it too.)
fn check(what: &str, data: Vec<u8>, f: fn(&[u8])) {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    std::thread::Builder::new()
        .name(what.to_string())
        .spawn(move || {
            f(&data);
            let _ = tx.send(());
        })
        .expect("spawn a thread");
    match rx.recv_timeout(TIME_LIMIT) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: still running after {:?}", start.elapsed())
        }
    }
}

fn target(name: &str) -> fn(&[u8]) {
    match name {
        "prepare" => harness::prepare,
        "btf" => harness::btf,
        "decode" => harness::decode,
        other => panic!("tests/corpus/{other}: no fuzz target of that name"),
    }
}

#[test]
fn regression_corpus_replays_without_panics_or_hangs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut count = 0;
    for dir in std::fs::read_dir(&root).expect("tests/corpus") {
        let dir = dir.unwrap().path();
        let f = target(dir.file_name().unwrap().to_str().unwrap());
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            check(&path.display().to_string(), data, f);
            count += 1;
        }
    }
    assert!(count > 0, "the regression corpus is empty");
}

#[test]
fn the_committed_objects_pass_every_target() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bpf");
    for file in std::fs::read_dir(dir).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|e| e == "o") {
            let data = std::fs::read(&path).unwrap();
            let obj = rawbpf::object::elf::Object::parse(&data).unwrap();
            if let Some(btf) = obj.btf {
                check(&path.display().to_string(), btf.to_vec(), harness::btf);
            }
            for s in obj.sections.iter().filter(|s| !s.insns.is_empty()) {
                check(&s.name, s.data.to_vec(), harness::decode);
            }
            check(&path.display().to_string(), data.clone(), harness::prepare);
        }
    }
}

// ---- hand-made hostile objects, one per class of bug in issue 8 ----

#[test]
fn btf_array_whose_element_is_itself_is_an_error() {
    let mut b = BtfBuilder::default();
    let arr = b.next_id();
    b.array(arr, 4);
    check("ARRAY of itself (btf)", b.build(), harness::btf);
    let arr = Btf::parse(&b.build()).unwrap().size_of(arr);
    assert!(arr.is_err(), "size of an infinite array: {arr:?}");

    // The same as the value of a map in an object.
    let mut m = MapObject::new();
    let arr = m.btf.next_id();
    m.btf.array(arr, 4);
    m.map("hmap", arr);
    check("ARRAY of itself (prepare)", m.build(), harness::prepare);
    let err = rawbpf::ObjectSpec::parse(&m.build()).unwrap_err();
    assert!(err.to_string().contains("hmap"), "{err}");
}

#[test]
fn btf_nested_arrays_deeper_than_the_kernel_allows_are_an_error() {
    let mut b = BtfBuilder::default();
    let int = b.int(4);
    let mut elem = int;
    for _ in 0..10_000 {
        elem = b.array(elem, 1);
    }
    check("10,000 nested arrays", b.build(), harness::btf);
    assert!(Btf::parse(&b.build()).unwrap().size_of(elem).is_err());
}

#[test]
fn btf_cycle_through_a_struct_member_is_bounded() {
    // struct s { struct s m[1]; } as a map value: STRUCT -> ARRAY -> STRUCT.
    let mut m = MapObject::new();
    let st = m.btf.next_id();
    let arr = st + 1;
    let name = m.btf.str("m");
    let s = m.btf.str("s");
    m.btf.add(s, 4, 1, 16, &[name, arr, 0]);
    assert_eq!(m.btf.array(st, 1), arr);
    m.map("hmap", st);
    check("STRUCT member cycle (prepare)", m.build(), harness::prepare);
    check("STRUCT member cycle (btf)", m.btf.build(), harness::btf);
}

#[test]
fn btf_ext_record_counts_past_the_section_are_an_error() {
    for count in [u32::MAX, u32::MAX / 8, 1 << 28] {
        let mut m = MapObject::new();
        let int = m.btf.int(4);
        m.map("hmap", int);
        let sec = m.btf.str("socket");
        m.ext = Some(btf_ext(8, &[(sec, count, 8)]));
        check(
            &format!("{count} func_info records"),
            m.build(),
            harness::prepare,
        );
        let err = rawbpf::ObjectSpec::parse(&m.build()).unwrap_err();
        assert!(err.to_string().contains("records"), "{err}");
    }
}

/// Each `.BTF.ext` record used to carry its own
/// copy of its section's name, so a long name and many small records asked
/// for memory quadratic in the object's size.
#[test]
fn btf_ext_memory_stays_linear_in_the_object() {
    let mut m = MapObject::new();
    let int = m.btf.int(4);
    m.map("hmap", int);
    let sec = m.btf.str(&"s".repeat(64 << 10));
    m.ext = Some(btf_ext(8, &[(sec, 8 << 10, 8 * (8 << 10))]));
    let data = m.build();
    let grew = peak_rss_growth(|| {
        let p = rawbpf::ObjectSpec::parse(&data);
        drop(p);
    });
    let limit = (64 << 20) + 64 * data.len() as u64;
    assert!(
        grew <= limit,
        "a {} byte object took {grew} bytes (limit {limit})",
        data.len()
    );
    let btf = Btf::parse(&m.btf.build()).unwrap();
    let ext = m.ext.take().unwrap();
    let grew = peak_rss_growth(|| drop(BtfExt::parse(&ext, &btf)));
    assert!(grew <= limit, "BtfExt::parse took {grew} bytes");
}

/// The DATASEC fix-up used to search every symbol for
/// every variable, quadratic in the number of globals (10 s for 60,000).
#[test]
fn sixty_thousand_globals_prepare_quickly() {
    const N: u32 = 60_000;
    let mut m = MapObject::new();
    let int = m.btf.int(4);
    let data_sec = m.elf.section(
        ".data",
        SHT_PROGBITS,
        SHF_ALLOC | SHF_WRITE,
        vec![0; 4 * N as usize],
    );
    let mut entries = Vec::with_capacity(3 * N as usize);
    for i in 0..N {
        let name = format!("g{i}");
        let name_off = m.btf.str(&name);
        let var = m.btf.add(name_off, 14, 0, int, &[1]);
        entries.extend([var, 0, 4]);
        m.elf
            .symbol(&name, STB_GLOBAL, STT_OBJECT, data_sec, 4 * u64::from(i), 4);
    }
    let data_name = m.btf.str(".data");
    m.btf.add(data_name, 15, N as u16, 0, &entries);
    let data = m.build();
    let start = Instant::now();
    // Over 10 s before, about 1 s with the symbols indexed (unoptimized).
    check("60,000 globals", data.clone(), harness::prepare);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "60,000 globals took {took:?}"
    );
    let p = rawbpf::ObjectSpec::parse(&data).unwrap();
    assert_eq!(p.maps().filter(|m| m.name == ".data").count(), 1);
}

/// How much the process's peak resident memory grows while `f` runs. The
/// kernel's high-water mark is reset first (`clear_refs` 5); other tests
/// running at the same time count too, so limits must leave room for them.
fn peak_rss_growth(f: impl FnOnce()) -> u64 {
    let hwm = || -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kb << 10
    };
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
    let before = hwm();
    f();
    hwm().saturating_sub(before)
}

// ---- a small ELF and BTF writer for the hand-made objects ----

const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_REL: u32 = 9;
const SHF_WRITE: u64 = 1;
const SHF_ALLOC: u64 = 2;
const SHF_EXECINSTR: u64 = 4;
const STB_GLOBAL: u8 = 1;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;

struct ElfSection {
    name: String,
    sh_type: u32,
    flags: u64,
    data: Vec<u8>,
}

/// A relocatable EM_BPF ELF: sections and symbols; `.symtab`, `.strtab` and
/// `.shstrtab` are added by `build`.
#[derive(Default)]
struct ElfBuilder {
    sections: Vec<ElfSection>,
    /// (name, st_info, st_shndx, st_value, st_size)
    symbols: Vec<(String, u8, u16, u64, u64)>,
}

impl ElfBuilder {
    /// Adds a section; returns its index (index 0 is the null section).
    fn section(&mut self, name: &str, sh_type: u32, flags: u64, data: Vec<u8>) -> u16 {
        self.sections.push(ElfSection {
            name: name.to_string(),
            sh_type,
            flags,
            data,
        });
        self.sections.len() as u16
    }

    fn symbol(&mut self, name: &str, bind: u8, kind: u8, shndx: u16, value: u64, size: u64) {
        self.symbols
            .push((name.to_string(), bind << 4 | kind, shndx, value, size));
    }

    fn build(&self) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut symtab = vec![0u8; 24];
        for (name, info, shndx, value, size) in &self.symbols {
            symtab.extend((strtab.len() as u32).to_le_bytes());
            strtab.extend(name.as_bytes());
            strtab.push(0);
            symtab.extend([*info, 0]);
            symtab.extend(shndx.to_le_bytes());
            symtab.extend(value.to_le_bytes());
            symtab.extend(size.to_le_bytes());
        }
        let n = self.sections.len() as u32;
        let (symtab_index, strtab_index, shstrtab_index) = (n + 1, n + 2, n + 3);
        // (name, type, flags, data)
        let mut all: Vec<(&str, u32, u64, &[u8])> = self
            .sections
            .iter()
            .map(|s| (s.name.as_str(), s.sh_type, s.flags, &s.data[..]))
            .collect();
        all.push((".symtab", SHT_SYMTAB, 0, &symtab));
        all.push((".strtab", SHT_STRTAB, 0, &strtab));
        let mut shstrtab = vec![0u8];
        let mut name_offs = Vec::new();
        for name in all.iter().map(|s| s.0).chain([".shstrtab"]) {
            name_offs.push(shstrtab.len() as u32);
            shstrtab.extend(name.as_bytes());
            shstrtab.push(0);
        }
        all.push((".shstrtab", SHT_STRTAB, 0, &shstrtab));
        assert_eq!(all.len() as u32, shstrtab_index);

        let mut out = vec![0u8; 64];
        let mut headers = vec![0u8; 64]; // the null section
        for (i, (_, sh_type, flags, data)) in all.iter().enumerate() {
            // .symtab links to .strtab; its first global symbol is 1.
            let is_symtab = i as u32 + 1 == symtab_index;
            let (link, info, entsize) = if is_symtab {
                (strtab_index, 1u32, 24u64)
            } else {
                (0, 0, 0)
            };
            while !out.len().is_multiple_of(8) {
                out.push(0);
            }
            let offset = out.len() as u64;
            out.extend_from_slice(data);
            headers.extend(name_offs[i].to_le_bytes());
            headers.extend(sh_type.to_le_bytes());
            headers.extend(flags.to_le_bytes());
            headers.extend(0u64.to_le_bytes()); // sh_addr
            headers.extend(offset.to_le_bytes());
            headers.extend((data.len() as u64).to_le_bytes());
            headers.extend(link.to_le_bytes());
            headers.extend(info.to_le_bytes());
            headers.extend(8u64.to_le_bytes()); // sh_addralign
            headers.extend(entsize.to_le_bytes());
        }
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let shoff = out.len() as u64;
        out.extend(headers);
        let shnum = all.len() as u16 + 1;
        let mut h = Vec::with_capacity(64);
        h.extend([0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        h.extend(1u16.to_le_bytes()); // ET_REL
        h.extend(247u16.to_le_bytes()); // EM_BPF
        h.extend(1u32.to_le_bytes());
        h.extend(0u64.to_le_bytes()); // e_entry
        h.extend(0u64.to_le_bytes()); // e_phoff
        h.extend(shoff.to_le_bytes());
        h.extend(0u32.to_le_bytes()); // e_flags
        h.extend(64u16.to_le_bytes()); // e_ehsize
        h.extend(0u16.to_le_bytes()); // e_phentsize
        h.extend(0u16.to_le_bytes()); // e_phnum
        h.extend(64u16.to_le_bytes()); // e_shentsize
        h.extend(shnum.to_le_bytes());
        h.extend((shstrtab_index as u16).to_le_bytes());
        out[..64].copy_from_slice(&h);
        out
    }
}

/// A `.BTF` blob, type by type.
struct BtfBuilder {
    types: Vec<u8>,
    strings: Vec<u8>,
    count: u32,
}

impl Default for BtfBuilder {
    fn default() -> Self {
        BtfBuilder {
            types: Vec::new(),
            strings: vec![0],
            count: 0,
        }
    }
}

impl BtfBuilder {
    fn str(&mut self, s: &str) -> u32 {
        let off = self.strings.len() as u32;
        self.strings.extend(s.as_bytes());
        self.strings.push(0);
        off
    }

    /// The id the next added type gets.
    fn next_id(&self) -> u32 {
        self.count + 1
    }

    fn add(
        &mut self,
        name_off: u32,
        kind: u32,
        vlen: u16,
        size_or_type: u32,
        extra: &[u32],
    ) -> u32 {
        let info = kind << 24 | u32::from(vlen);
        for v in [name_off, info, size_or_type].iter().chain(extra) {
            self.types.extend(v.to_le_bytes());
        }
        self.count += 1;
        self.count
    }

    fn int(&mut self, size: u32) -> u32 {
        let name = self.str("int");
        self.add(name, 1, 0, size, &[(size * 8) | 1 << 24])
    }

    /// `elem[n]`, the index type being `elem` too (nothing reads it here).
    fn array(&mut self, elem: u32, n: u32) -> u32 {
        self.add(0, 3, 0, 0, &[elem, elem, n])
    }

    fn ptr(&mut self, to: u32) -> u32 {
        self.add(0, 2, 0, to, &[])
    }

    fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(0xeb9fu16.to_le_bytes());
        out.extend([1, 0]);
        for v in [24, 0, self.types.len() as u32, self.types.len() as u32] {
            out.extend(v.to_le_bytes());
        }
        out.extend((self.strings.len() as u32).to_le_bytes());
        out.extend(&self.types);
        out.extend(&self.strings);
        out
    }
}

/// A `.BTF.ext` with one func_info block of `(section name offset, record
/// count, bytes of records actually present)` entries.
fn btf_ext(rec_size: u32, secs: &[(u32, u32, usize)]) -> Vec<u8> {
    let mut block = rec_size.to_le_bytes().to_vec();
    for &(name, count, bytes) in secs {
        block.extend(name.to_le_bytes());
        block.extend(count.to_le_bytes());
        block.extend(std::iter::repeat_n(0u8, bytes));
    }
    let mut out = Vec::new();
    out.extend(0xeb9fu16.to_le_bytes());
    out.extend([1, 0]);
    for v in [32, 0, block.len() as u32, block.len() as u32, 0, 0, 0] {
        out.extend(v.to_le_bytes());
    }
    out.extend(block);
    out
}

/// An object with one program (`socket`: r0 = 0; exit), a license, and
/// BTF-defined maps in `.maps`.
struct MapObject {
    elf: ElfBuilder,
    btf: BtfBuilder,
    ext: Option<Vec<u8>>,
    maps: Vec<(String, u32)>,
}

impl MapObject {
    fn new() -> MapObject {
        let mut elf = ElfBuilder::default();
        let code = [0xb7u8, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
        let prog = elf.section(
            "socket",
            SHT_PROGBITS,
            SHF_ALLOC | SHF_EXECINSTR,
            code.to_vec(),
        );
        elf.symbol("prog", STB_GLOBAL, STT_FUNC, prog, 0, 16);
        elf.section(
            "license",
            SHT_PROGBITS,
            SHF_ALLOC | SHF_WRITE,
            b"GPL\0".to_vec(),
        );
        MapObject {
            elf,
            btf: BtfBuilder::default(),
            ext: None,
            maps: Vec::new(),
        }
    }

    /// A hash map `name` with int keys and values of BTF type `value`.
    fn map(&mut self, name: &str, value: u32) {
        self.maps.push((name.to_string(), value));
    }

    fn build(&self) -> Vec<u8> {
        let mut elf_sections = ElfBuilder {
            sections: Vec::new(),
            symbols: self.elf.symbols.clone(),
        };
        for s in &self.elf.sections {
            elf_sections.section(&s.name, s.sh_type, s.flags, s.data.clone());
        }
        let mut btf = BtfBuilder {
            types: self.btf.types.clone(),
            strings: self.btf.strings.clone(),
            count: self.btf.count,
        };
        if !self.maps.is_empty() {
            let int = btf.int(4);
            let hash = btf.array(int, 1); // __uint(type, BPF_MAP_TYPE_HASH)
            let type_ptr = btf.ptr(hash);
            let key_ptr = btf.ptr(int);
            let mut entries = Vec::new();
            for (i, (name, value)) in self.maps.iter().enumerate() {
                let value_ptr = btf.ptr(*value);
                let members = [
                    (btf.str("type"), type_ptr),
                    (btf.str("key"), key_ptr),
                    (btf.str("value"), value_ptr),
                ];
                let extra: Vec<u32> = members
                    .iter()
                    .enumerate()
                    .flat_map(|(j, &(n, t))| [n, t, 64 * j as u32])
                    .collect();
                let def = btf.add(0, 4, 3, 24, &extra);
                let name = btf.str(name);
                let var = btf.add(name, 14, 0, def, &[1]);
                entries.extend([var, 24 * i as u32, 24]);
            }
            let maps_name = btf.str(".maps");
            btf.add(maps_name, 15, self.maps.len() as u16, 0, &entries);
            let maps = elf_sections.section(
                ".maps",
                SHT_PROGBITS,
                SHF_ALLOC | SHF_WRITE,
                vec![0; 24 * self.maps.len()],
            );
            for (i, (name, _)) in self.maps.iter().enumerate() {
                elf_sections.symbol(name, STB_GLOBAL, STT_OBJECT, maps, 24 * i as u64, 24);
            }
        }
        elf_sections.section(".BTF", SHT_PROGBITS, 0, btf.build());
        if let Some(ext) = &self.ext {
            elf_sections.section(".BTF.ext", SHT_PROGBITS, 0, ext.clone());
        }
        elf_sections.build()
    }
}

#[test]
fn the_hand_made_object_writer_makes_objects_rawbpf_loads() {
    let mut m = MapObject::new();
    let int = m.btf.int(4);
    m.map("hmap", int);
    let data = m.build();
    let p = rawbpf::ObjectSpec::parse(&data).unwrap();
    assert_eq!(p.object().programs.len(), 1);
    let defs = p.btf().unwrap().map_defs().unwrap();
    assert_eq!(defs.len(), 1);
    assert_eq!(
        (
            defs[0].name.as_str(),
            defs[0].map_type,
            defs[0].key_size,
            defs[0].value_size
        ),
        ("hmap", 1, 4, 4)
    );
}

/// `load::read_object` of `data` written to a file of its own (named after
/// `what`), removed after.
fn read_as_file(what: &str, data: &[u8]) -> rawbpf::Result<Vec<u8>> {
    let path = std::env::temp_dir().join(format!("rawbpf-{what}-{}.bpf.o", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let read = rawbpf::load::read_object(&path);
    let _ = std::fs::remove_file(&path);
    read
}

/// `load::read_object` leaves DWARF unread: a `.debug_info` section and its
/// relocations come back as zeros (past the first read), every other byte
/// as in the file, and the object parses as the file's own bytes do.
#[test]
fn reading_an_object_leaves_its_dwarf_unread() {
    let mut m = MapObject::new();
    let int = m.btf.int(4);
    m.map("hmap", int);
    m.elf
        .section(".debug_info", SHT_PROGBITS, 0, vec![0xab; 256 * 1024]);
    m.elf.section(".rel.debug_info", SHT_REL, 0, vec![0xcd; 48]);
    let data = m.build();
    let read = read_as_file("dwarf", &data).unwrap();
    assert_eq!(read.len(), data.len());
    let differ: Vec<usize> = (0..data.len()).filter(|&i| read[i] != data[i]).collect();
    // Only DWARF bytes may read as zeros, and those past the first 64 KiB
    // (read whole) do.
    assert!(differ.iter().all(|&i| read[i] == 0 && data[i] >= 0xab));
    assert!(
        differ.len() >= 192 * 1024,
        "{} DWARF bytes unread",
        differ.len()
    );
    let (a, b) = (
        rawbpf::ObjectSpec::parse(&data).unwrap(),
        rawbpf::ObjectSpec::parse(&read).unwrap(),
    );
    let programs = |s: &rawbpf::ObjectSpec<'_>| -> Vec<(String, String)> {
        (s.programs())
            .map(|p| (p.name().to_string(), p.section().to_string()))
            .collect()
    };
    assert_eq!(programs(&a), programs(&b));
    assert_eq!(a.object().sections.len(), b.object().sections.len());
    for (x, y) in a.object().sections.iter().zip(&b.object().sections) {
        if !x.name.contains("debug") {
            assert_eq!((&x.name, &x.insns), (&y.name, &y.insns));
        }
    }
    let maps = |s: &rawbpf::ObjectSpec<'_>| -> Vec<String> {
        s.maps().map(|m| m.name().to_string()).collect()
    };
    assert_eq!(maps(&a), vec!["hmap"]);
    assert_eq!(maps(&a), maps(&b));
    assert_eq!(a.btf().unwrap().bytes(), b.btf().unwrap().bytes());
}

/// A section whose size runs past the end of the file (here to the end of
/// the address space) is no reason to read less or to panic: the whole
/// file is read, and the parser says what is wrong.
#[test]
fn reading_an_object_with_a_section_past_its_end_reads_it_whole() {
    let mut m = MapObject::new();
    m.elf
        .section(".debug_info", SHT_PROGBITS, 0, vec![0xab; 128 * 1024]);
    let mut data = m.build();
    let shoff = u64::from_le_bytes(data[0x28..0x30].try_into().unwrap()) as usize;
    // Section 1's sh_size: to just short of the end of the address space.
    let at = u64::from_le_bytes(
        data[shoff + 64 + 0x18..shoff + 64 + 0x20]
            .try_into()
            .unwrap(),
    );
    let size = u64::MAX - at - 100;
    data[shoff + 64 + 0x20..shoff + 64 + 0x28].copy_from_slice(&size.to_le_bytes());
    let read = read_as_file("past-end", &data).unwrap();
    assert_eq!(read, data, "read whole, byte for byte");
    assert!(rawbpf::ObjectSpec::parse(&data).is_err());
}

/// `count` global functions in one section, each calling the next, so every
/// one is a program that links all the functions after it; with a
/// `.BTF.ext` func_info record for each.
fn chain_of_programs(count: u32) -> Vec<u8> {
    let mut m = MapObject::new();
    m.elf.sections.clear();
    m.elf.symbols.clear();
    let mut code = Vec::new();
    for k in 0..count {
        if k + 1 < count {
            code.extend([0x85, 0x10, 0, 0, 1, 0, 0, 0]); // call the next function
        } else {
            code.extend([0xb7, 0, 0, 0, 0, 0, 0, 0]); // r0 = 0
        }
        code.extend([0x95, 0, 0, 0, 0, 0, 0, 0]); // exit
    }
    let flags = SHF_ALLOC | SHF_EXECINSTR;
    let prog = m.elf.section("socket", SHT_PROGBITS, flags, code);
    for k in 0..count {
        let name = format!("f{k}");
        m.elf
            .symbol(&name, STB_GLOBAL, STT_FUNC, prog, 16 * u64::from(k), 16);
    }
    let license = b"GPL\0".to_vec();
    m.elf
        .section("license", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, license);
    let sec = m.btf.str("socket");
    let records: Vec<u8> = (0..count)
        .flat_map(|k| [16 * k, 1])
        .flat_map(u32::to_le_bytes)
        .collect();
    let mut ext = btf_ext(8, &[(sec, count, 0)]);
    ext.extend(&records);
    let func_info_len = ext.len() as u32 - 32;
    ext[12..16].copy_from_slice(&func_info_len.to_le_bytes());
    m.ext = Some(ext);
    m.build()
}

/// Placing a function and moving its func_info used to scan everything
/// placed or recorded so far: a 50 KB object of 1,000 programs calling each
/// other took 13 s (cubic), and 500 KB would take hours.
#[test]
fn linking_many_programs_that_share_functions_is_not_cubic() {
    let data = chain_of_programs(400);
    let p = rawbpf::ObjectSpec::parse(&data).unwrap();
    let first = &p.object().programs[0];
    let externs = rawbpf::object::externs::Resolved::default();
    let targets = rawbpf::object::reloc::Targets {
        map_fd: &|_| Some(3),
        externs: &externs,
    };
    let linked =
        rawbpf::object::reloc::assemble(p.object(), *first, p.btf_ext(), &targets).unwrap();
    assert_eq!(linked.insns.len(), 800);
    assert_eq!(linked.func_info.len(), 400);
    assert!(linked
        .func_info
        .iter()
        .enumerate()
        .all(|(k, f)| f.insn_off == 2 * k as u32));
    let start = Instant::now();
    check("400 programs calling each other", data, harness::prepare);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// Planning a map for each data section searched all BTF types for its
/// DATASEC: quadratic in the number of sections (4,000 sections, a 680 KB
/// object: 0.6 s optimized, most of it there).
#[test]
fn many_data_sections_plan_in_linear_time() {
    const N: u32 = 3000;
    let mut m = MapObject::new();
    let int = m.btf.int(4);
    for k in 0..N {
        let name = format!(".data.{k}");
        let flags = SHF_ALLOC | SHF_WRITE;
        let sec = m.elf.section(&name, SHT_PROGBITS, flags, vec![1; 4]);
        let var = format!("v{k}");
        m.elf.symbol(&var, STB_GLOBAL, STT_OBJECT, sec, 0, 4);
        let var_name = m.btf.str(&var);
        let var = m.btf.add(var_name, 14, 0, int, &[1]);
        let sec_name = m.btf.str(&name);
        m.btf.add(sec_name, 15, 1, 0, &[var, 0, 4]);
    }
    let data = m.build();
    let obj = rawbpf::object::elf::Object::parse(&data).unwrap();
    let mut btf = Btf::parse(obj.btf.unwrap()).unwrap();
    btf.fix_datasecs(&obj).unwrap();
    let start = Instant::now();
    let plan = rawbpf::object::maps::plan(&obj, Some(&btf)).unwrap();
    let took = start.elapsed();
    assert_eq!(plan.len(), N as usize);
    assert!(plan.iter().all(|m| m.attr.btf_value_type_id != 0));
    // Unoptimized: 520 ms before, 7 ms after.
    assert!(took < Duration::from_millis(250), "planning took {took:?}");
    check("3,000 data sections", data, harness::prepare);
}
