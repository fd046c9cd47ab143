//! Pure parts of extern handling: finding externs in BTF, the `.kconfig`
//! layout, the BTF fix-ups, config parsing and storing, kallsyms, gunzip.

use super::*;

const EXTERNS_OBJ: &[u8] = include_bytes!("../../../bpf/externs.bpf.o");

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
fn config_lines() {
    let c = parse_config(
        "# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"str\"\nCONFIG_D=0x10\nNOT_CONFIG=1\n",
    );
    assert_eq!(c["CONFIG_A"], "y");
    assert_eq!(c["CONFIG_B"], "n");
    assert_eq!(c["CONFIG_C"], "\"str\"");
    assert_eq!(c["CONFIG_D"], "0x10");
    assert!(!c.contains_key("NOT_CONFIG"));
}

#[test]
fn kernel_versions() {
    assert_eq!(kernel_version("6.1.0-27-amd64"), 0x060100);
    assert_eq!(kernel_version("6.12.57+deb13-amd64"), 0x060c39);
    assert_eq!(kernel_version("4.19.300"), 0x0413ff);
    assert_eq!(kernel_version("garbage"), 0);
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

fn store(ty: KconfigType, value: &str) -> Result<Vec<u8>> {
    let mut b = vec![0u8; ty.size() as usize];
    store_kconfig("CONFIG_X", ty, value, &mut b).map(|()| b)
}

#[test]
fn kconfig_values_by_type() {
    use KconfigType::*;
    assert_eq!(store(Bool, "y").unwrap(), [1]);
    assert_eq!(store(Bool, "n").unwrap(), [0]);
    assert!(store(Bool, "m")
        .unwrap_err()
        .to_string()
        .contains("tristate"));
    assert_eq!(store(Tristate, "m").unwrap(), 2u32.to_ne_bytes());
    assert_eq!(store(Char, "m").unwrap(), [b'm']);
    let int = |size, signed| Int { size, signed };
    assert_eq!(store(int(4, true), "250").unwrap(), 250i32.to_ne_bytes());
    assert_eq!(store(int(4, true), "-3").unwrap(), (-3i32).to_ne_bytes());
    assert_eq!(
        store(int(2, false), "0x1234").unwrap(),
        0x1234u16.to_ne_bytes()
    );
    assert!(store(int(1, false), "256").is_err());
    assert!(store(int(1, true), "128").is_err());
    assert!(store(int(4, true), "y").is_err());
    assert_eq!(store(Str { len: 4 }, "\"ab\"").unwrap(), b"ab\0\0");
    // Too long: cut, and the last byte stays NUL.
    assert_eq!(store(Str { len: 4 }, "\"abcdef\"").unwrap(), b"abc\0");
    assert!(store(Str { len: 4 }, "abc").is_err());
}

/// Sources that answer from fixed data.
struct Fake {
    config: Option<&'static str>,
    btf: Vec<(u8, &'static str, u32)>,
    kallsyms: &'static str,
    config_reads: usize,
    module_opens: usize,
}

impl Sources for Fake {
    fn kernel_release(&mut self) -> Result<String> {
        Ok("6.12.3-amd64".into())
    }
    fn kernel_config(&mut self) -> Result<String> {
        self.config_reads += 1;
        self.config
            .map(str::to_string)
            .ok_or_else(|| Error::Env("no config".into()))
    }
    fn kernel_btf_id(&mut self, btf_kind: u8, name: &str) -> Result<Option<KernelBtfId>> {
        Ok(self
            .btf
            .iter()
            .find(|(k, n, _)| *k == btf_kind && *n == name)
            .map(|b| KernelBtfId {
                id: b.2,
                module: b.1.starts_with("mod_").then(|| "some_module".to_string()),
            }))
    }
    fn module_btf_fd(&mut self, _module: &str) -> Result<OwnedFd> {
        self.module_opens += 1;
        let f = std::fs::File::open("/dev/null").map_err(|e| Error::io("/dev/null", e))?;
        Ok(f.into())
    }
    fn kallsyms_address(&mut self, name: &str) -> Result<Option<u64>> {
        kallsyms_lookup(self.kallsyms, name).map_err(|w| extern_err(name, w))
    }
}

fn prepared() -> (Object<'static>, Btf, Externs) {
    let obj = Object::parse(EXTERNS_OBJ).unwrap();
    let btf = Btf::parse(obj.btf.unwrap()).unwrap();
    let externs = Externs::collect(&obj, Some(&btf)).unwrap();
    (obj, btf, externs)
}

fn find<'e>(externs: &'e Externs, name: &str) -> &'e Extern {
    externs.list.iter().find(|e| e.name == name).unwrap()
}

#[test]
fn externs_of_the_test_object_and_their_layout() {
    let (_, _, externs) = prepared();
    assert_eq!(externs.list.len(), 10);
    let kconfig = |name| match find(&externs, name).kind {
        ExternKind::Kconfig { ty, byte } => (ty, byte),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(
        kconfig("CONFIG_HZ").0,
        KconfigType::Int {
            size: 4,
            signed: true
        }
    );
    assert_eq!(kconfig("CONFIG_BPF_SYSCALL").0, KconfigType::Bool);
    assert_eq!(kconfig("CONFIG_NF_CONNTRACK").0, KconfigType::Tristate);
    assert_eq!(
        kconfig("CONFIG_DEFAULT_HOSTNAME").0,
        KconfigType::Str { len: 16 }
    );
    assert_eq!(
        kconfig("LINUX_KERNEL_VERSION").0,
        KconfigType::Int {
            size: 4,
            signed: false
        }
    );
    assert!(find(&externs, "CONFIG_NF_CONNTRACK").weak);
    assert!(!find(&externs, "CONFIG_HZ").weak);
    assert_eq!(
        find(&externs, "bpf_prog_put").kind,
        ExternKind::Ksym { typed: false }
    );
    assert_eq!(find(&externs, "bpf_dynptr_size").kind, ExternKind::Kfunc);
    // Each value aligned to its size, none overlapping, all inside the map.
    let mut spans: Vec<(u32, u32)> = externs
        .list
        .iter()
        .filter_map(|e| match e.kind {
            ExternKind::Kconfig { ty, byte } => {
                assert_eq!(byte % ty.align(), 0, "{}", e.name);
                Some((byte, byte + ty.size()))
            }
            _ => None,
        })
        .collect();
    spans.sort();
    assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0));
    assert_eq!(spans.last().unwrap().1, externs.kconfig_size);
}

#[test]
fn fixed_btf_has_no_extern_linkage_left() {
    let (_, mut btf, externs) = prepared();
    externs.fix_btf(&mut btf).unwrap();
    for id in 1..btf.len() as u32 {
        let t = btf.get(id).unwrap();
        if t.kind == kind::FUNC {
            assert!(t.vlen <= 1, "FUNC {id} still extern");
        }
    }
    let ksyms = btf.find(kind::DATASEC, KSYMS_SEC).unwrap();
    for (var, _, size) in btf.datasec_vars(ksyms).unwrap() {
        assert_eq!(btf.get(var).unwrap().kind, kind::VAR);
        assert_eq!(size, 4);
    }
    let kconfig = btf.find(kind::DATASEC, KCONFIG_SEC).unwrap();
    assert_eq!(
        btf.size_of(kconfig).unwrap(),
        u64::from(externs.kconfig_size)
    );
    let hz = find(&externs, "CONFIG_HZ");
    let entry = btf
        .datasec_vars(kconfig)
        .unwrap()
        .into_iter()
        .find(|e| e.0 == hz.btf_id)
        .unwrap();
    assert_eq!(
        ExternKind::Kconfig {
            ty: KconfigType::Int {
                size: 4,
                signed: true
            },
            byte: entry.1
        },
        hz.kind
    );
    // And it still parses as a whole.
    Btf::parse(btf.bytes()).unwrap();
}

const CONFIG: &str = "CONFIG_BPF_SYSCALL=y\nCONFIG_NF_CONNTRACK=m\nCONFIG_HZ=1000\n\
                      CONFIG_DEFAULT_HOSTNAME=\"box\"\n";

fn fake() -> Fake {
    Fake {
        config: Some(CONFIG),
        btf: vec![(kind::FUNC, "bpf_dynptr_size", 555)],
        kallsyms: "ffffffff81002000 T bpf_prog_put\nffffffff81003000 T __x64_sys_bpf\n",
        config_reads: 0,
        module_opens: 0,
    }
}

fn value_of(externs: &Externs, r: &Resolved, name: &str) -> Vec<u8> {
    let ExternKind::Kconfig { ty, byte } = find(externs, name).kind else {
        panic!("{name}")
    };
    r.kconfig[byte as usize..(byte + ty.size()) as usize].to_vec()
}

#[test]
fn resolve_against_fake_sources() {
    let (_, _, externs) = prepared();
    let mut f = fake();
    let r = resolve(&externs, &mut f).unwrap();
    assert_eq!(f.config_reads, 1, "the config is read once");
    assert_eq!(value_of(&externs, &r, "CONFIG_HZ"), 1000i32.to_ne_bytes());
    assert_eq!(
        value_of(&externs, &r, "CONFIG_NF_CONNTRACK"),
        2u32.to_ne_bytes()
    );
    assert_eq!(value_of(&externs, &r, "CONFIG_BPF_SYSCALL"), [1]);
    assert_eq!(
        &value_of(&externs, &r, "CONFIG_DEFAULT_HOSTNAME")[..4],
        b"box\0"
    );
    assert_eq!(
        value_of(&externs, &r, "CONFIG_RAWBPF_NOT_AN_OPTION"),
        [0; 4]
    );
    assert_eq!(
        value_of(&externs, &r, "LINUX_KERNEL_VERSION"),
        0x060c03u32.to_ne_bytes()
    );
    assert_eq!(value_of(&externs, &r, "LINUX_HAS_BPF_COOKIE"), [1]);
    #[cfg(target_arch = "x86_64")]
    assert_eq!(value_of(&externs, &r, "LINUX_HAS_SYSCALL_WRAPPER"), [1]);
    assert_eq!(
        r.get("bpf_prog_put"),
        Some(&Resolution::Address(0xffffffff81002000))
    );
    assert_eq!(
        r.get("bpf_dynptr_size"),
        Some(&Resolution::Kfunc {
            btf_id: 555,
            fd_array_index: 0
        })
    );
}

#[test]
fn missing_weak_externs_are_zero_or_poisoned_and_non_weak_ones_fail() {
    let (_, _, externs) = prepared();
    // The weak kfunc is missing: poisoned, not an error.
    let mut f = fake();
    f.btf.clear();
    let r = resolve(&externs, &mut f).unwrap();
    assert!(matches!(
        r.get("bpf_dynptr_size"),
        Some(Resolution::Missing { .. })
    ));
    // The non-weak typeless ksym is missing: an error naming it.
    let mut f = fake();
    f.kallsyms = "";
    let e = resolve(&externs, &mut f).unwrap_err().to_string();
    assert!(
        e.contains("'bpf_prog_put'") && e.contains("kallsyms"),
        "{e}"
    );
    // A non-weak CONFIG_ missing from the config.
    let mut f = fake();
    f.config = Some("CONFIG_BPF_SYSCALL=y\n");
    let e = resolve(&externs, &mut f).unwrap_err().to_string();
    assert!(
        e.contains("'CONFIG_HZ'") && e.contains("not in the kernel configuration"),
        "{e}"
    );
    // No config at all: the first non-weak CONFIG_ says so.
    let mut f = fake();
    f.config = None;
    let e = resolve(&externs, &mut f).unwrap_err().to_string();
    assert!(
        e.contains("CONFIG_") && e.contains("no kernel configuration"),
        "{e}"
    );
}

#[test]
fn module_kfuncs_share_one_fd_array_slot_per_module() {
    let kfunc = |name: &str| Extern {
        name: name.into(),
        kind: ExternKind::Kfunc,
        weak: false,
        btf_id: 1,
    };
    let externs = Externs {
        list: vec![kfunc("mod_a"), kfunc("bpf_dynptr_size"), kfunc("mod_b")],
        kconfig_size: 0,
    };
    let mut f = fake();
    f.btf = vec![
        (kind::FUNC, "mod_a", 70001),
        (kind::FUNC, "mod_b", 70002),
        (kind::FUNC, "bpf_dynptr_size", 555),
    ];
    let r = resolve(&externs, &mut f).unwrap();
    assert_eq!(f.module_opens, 1);
    assert_eq!(r.fd_array.len(), 2);
    assert_eq!(r.fd_array[1], r.module_fds[0].as_raw_fd());
    assert_eq!(
        r.get("mod_a"),
        Some(&Resolution::Kfunc {
            btf_id: 70001,
            fd_array_index: 1
        })
    );
    assert_eq!(
        r.get("mod_b"),
        Some(&Resolution::Kfunc {
            btf_id: 70002,
            fd_array_index: 1
        })
    );
    assert_eq!(
        r.get("bpf_dynptr_size"),
        Some(&Resolution::Kfunc {
            btf_id: 555,
            fd_array_index: 0
        })
    );
}

#[test]
fn a_huge_kconfig_string_is_refused_not_allocated() {
    let mut externs = Externs {
        list: vec![Extern {
            name: "CONFIG_HUGE".into(),
            kind: ExternKind::Kconfig {
                ty: KconfigType::Str { len: u32::MAX },
                byte: 0,
            },
            weak: false,
            btf_id: 1,
        }],
        kconfig_size: 0,
    };
    let e = externs.layout_kconfig().unwrap_err().to_string();
    assert!(e.contains("CONFIG_HUGE") && e.contains("exceed"), "{e}");
}

#[test]
fn corrupted_extern_objects_never_panic() {
    // The pure half (ELF, BTF, externs, their BTF fix-ups) on every 11th
    // byte of the extern test object, corrupted three ways: any result but a
    // panic (or an overflow, which panics in debug builds) is fine.
    let mut bytes = EXTERNS_OBJ.to_vec();
    for i in (0..bytes.len()).step_by(11) {
        let original = bytes[i];
        for corrupt in [original ^ 0xff, 0xff, original.wrapping_add(1)] {
            bytes[i] = corrupt;
            let _ = crate::load::prepare(&bytes);
        }
        bytes[i] = original;
    }
}
