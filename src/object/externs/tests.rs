//! Pure parts of extern handling: finding externs in BTF, the `.kconfig`
//! layout, the BTF fix-ups, config parsing and storing, resolution against
//! fake sources.

use super::*;

const EXTERNS_OBJ: &[u8] = include_bytes!("../../../bpf/externs.bpf.o");

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
    kallsyms: &'static [(&'static str, u64)],
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
        Ok(self.kallsyms.iter().find(|k| k.0 == name).map(|k| k.1))
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
        kallsyms: &[
            ("bpf_prog_put", 0xffffffff81002000),
            ("__x64_sys_bpf", 0xffffffff81003000),
        ],
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
    f.kallsyms = &[];
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
            let _ = crate::object::spec::ObjectSpec::parse(&bytes);
        }
        bytes[i] = original;
    }
}
