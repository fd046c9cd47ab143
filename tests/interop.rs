//! Beside libbpf: the same object gets the same map names and flags from
//! rawbpf as from libbpf (Debian's libbpf-dev, 1.1 on bookworm), and a map
//! pinned by name (LIBBPF_PIN_BY_NAME) by one is reused by the other: the
//! same map, by its kernel id. libbpf runs in `tests/interop/libbpf_peer.c`,
//! which the test builds with gcc (`make test` installs gcc and
//! libbpf-dev). Pins go only under unique directories in bpffs, removed at
//! the end, also on failure. Needs root.

mod common;

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{kernel_has_bpf_timer, require_root, PinDir};
use rawbpf::{LoadOptions, ObjectSpec};

const BY_NAME: &[u8] = include_bytes!("../bpf/pin_by_name.bpf.o");

/// The libbpf side, built once per test binary, or None in a `make
/// vmtest` guest (no compiler there: the test says it does not apply).
fn peer() -> Option<PathBuf> {
    static PEER: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    PEER.get_or_init(build_peer).clone()
}

fn build_peer() -> Option<PathBuf> {
    let missing = ["/usr/bin/gcc", "/usr/include/bpf/libbpf.h"]
        .into_iter()
        .find(|p| !Path::new(p).exists());
    if let Some(missing) = missing {
        assert!(
            Path::new("/vmtest").exists(),
            "{missing} is missing: `make test` installs gcc and libbpf-dev"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "NOT APPLICABLE: interop with libbpf: needs gcc and libbpf-dev, which this guest does not have"
        );
        return None;
    }
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/libbpf_peer.c");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("libbpf_peer");
    let o = Command::new("gcc")
        .args(["-O1", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&out)
        .arg(source)
        .arg("-lbpf")
        .output()
        .expect("run gcc");
    assert!(
        o.status.success(),
        "gcc {source}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(out)
}

/// Runs the libbpf side with `args`; its stdout, one line a map.
fn libbpf(peer: &Path, args: &[&str]) -> Vec<String> {
    String::from_utf8(common::command_ok(peer, "libbpf_peer", args))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// An object written under its own file name (libbpf names the object
/// after it), in a directory of its own; removed on drop.
struct NamedObject(PathBuf);

impl NamedObject {
    fn new(file: &str, bytes: &[u8]) -> NamedObject {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("interop-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), bytes).unwrap();
        NamedObject(dir.join(file))
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for NamedObject {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir(self.0.parent().unwrap());
    }
}

fn kernel_name(raw: &[u8]) -> String {
    let len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..len]).into_owned()
}

/// Every map of the object as the kernel knows it after rawbpf loaded the
/// file: "NAME FLAGS", as the peer prints them.
fn rawbpf_names(object: &NamedObject) -> Vec<String> {
    let bytes = std::fs::read(&object.0).unwrap();
    let mut spec = ObjectSpec::parse(&bytes).unwrap();
    spec.set_name(&rawbpf::object::spec::object_name(&object.0));
    let loaded = spec.load(&LoadOptions::default()).unwrap();
    loaded
        .maps
        .iter()
        .map(|m| {
            let info = m.info().unwrap();
            format!("{} {:#x}", kernel_name(&info.name), info.map_flags)
        })
        .collect()
}

#[test]
fn maps_get_the_names_and_flags_libbpf_gives_them() {
    require_root();
    let Some(peer) = peer() else { return };
    let mut objects = vec![
        ("globals.bpf.o", &include_bytes!("../bpf/globals.bpf.o")[..]),
        ("externs.bpf.o", include_bytes!("../bpf/externs.bpf.o")),
        ("percpu.bpf.o", include_bytes!("../bpf/percpu.bpf.o")),
    ];
    if kernel_has_bpf_timer() {
        objects.push(("timer_cancel.bpf.o", rawbpf::SEED_OBJECT));
    }
    for (file, bytes) in objects {
        let object = NamedObject::new(file, bytes);
        let mut theirs = libbpf(&peer, &["names", object.path()]);
        let mut ours = rawbpf_names(&object);
        theirs.sort();
        ours.sort();
        assert_eq!(ours, theirs, "{file}: rawbpf's maps, then libbpf's");
    }
}

/// The map pinned at `path`: its kernel id.
fn pinned_id(path: &Path) -> u32 {
    let fd = rawbpf::kernel::bpffs::open_pinned(path).unwrap();
    rawbpf::sys::map_info(fd.as_fd()).unwrap().id
}

/// The by-name object loaded by rawbpf with its pin root at `root`.
fn load_by_name(root: &Path) -> rawbpf::Loaded {
    ObjectSpec::parse(BY_NAME)
        .unwrap()
        .load(&LoadOptions::default().pin_maps(root))
        .unwrap()
}

/// The one map `root/shared_counts` the peer printed: its id.
fn peer_pin(peer: &Path, root: &Path, object: &NamedObject) -> u32 {
    let lines = libbpf(peer, &["pin", root.to_str().unwrap(), object.path()]);
    let [line] = &lines[..] else {
        panic!("one map pinned by name: {lines:?}")
    };
    let id = line.strip_prefix("shared_counts ").expect(line);
    id.parse().unwrap()
}

#[test]
fn a_map_pinned_by_name_by_libbpf_is_reused_by_rawbpf() {
    require_root();
    let Some(peer) = peer() else { return };
    let object = NamedObject::new("pin_by_name.bpf.o", BY_NAME);
    let root = PinDir::new("interop-libbpf-first");
    let pin = root.path().join("shared_counts");
    let id = peer_pin(&peer, root.path(), &object);
    assert_eq!(pinned_id(&pin), id, "libbpf pinned it at ROOT/NAME");

    let loaded = load_by_name(root.path());
    let [by_name] = &loaded.pinned_by_name[..] else {
        panic!("{:?}", loaded.pinned_by_name)
    };
    assert!(!by_name.made, "reused, not pinned again");
    assert_eq!(by_name.path, pin);
    let map = loaded.map("shared_counts").unwrap();
    assert_eq!(map.info().unwrap().id, id, "the very map libbpf made");
    let (_, prog_maps) = loaded.programs[0].info().unwrap();
    assert_eq!(prog_maps, [id], "the program uses it");
    drop(loaded);
    assert_eq!(pinned_id(&pin), id, "the pin stays");

    // The command too: reused, pinned nowhere else, and kept by detach.
    let pins = PinDir::new("interop-run");
    let out = common::rawbpf_ok(&[
        "run",
        object.path(),
        "--pin-maps",
        root.path().to_str().unwrap(),
        "--no-attach",
        "--pin",
        pins.path().to_str().unwrap(),
    ]);
    assert!(out.contains("shared_counts reused by name"), "{out}");
    let (record, _) = rawbpf::pin::read_record(pins.path()).unwrap();
    let prog_pin = record
        .pins
        .iter()
        .find(|p| p.kind == rawbpf::pin::PinKind::Program)
        .unwrap();
    let prog = rawbpf::kernel::bpffs::open_pinned(&pins.path().join(&prog_pin.name)).unwrap();
    assert_eq!(rawbpf::sys::prog_info(prog.as_fd()).unwrap().1, [id]);
    drop(prog);
    common::rawbpf_ok(&["detach", "--pin", pins.path().to_str().unwrap()]);
    assert!(!pins.path().exists());
    assert_eq!(pinned_id(&pin), id, "detach leaves a pin by name");
}

#[test]
fn a_map_pinned_by_name_by_rawbpf_is_reused_by_libbpf() {
    require_root();
    let Some(peer) = peer() else { return };
    let object = NamedObject::new("pin_by_name.bpf.o", BY_NAME);
    let root = PinDir::new("interop-rawbpf-first");
    let loaded = load_by_name(root.path());
    let [by_name] = &loaded.pinned_by_name[..] else {
        panic!("{:?}", loaded.pinned_by_name)
    };
    assert!(by_name.made, "nothing was pinned there: rawbpf pins it");
    let id = loaded.map("shared_counts").unwrap().info().unwrap().id;
    drop(loaded);
    let pin = root.path().join("shared_counts");
    assert_eq!(
        pinned_id(&pin),
        id,
        "the pin outlives the load, as libbpf's"
    );
    assert_eq!(
        peer_pin(&peer, root.path(), &object),
        id,
        "libbpf reused it"
    );
    assert_eq!(pinned_id(&pin), id);
}

/// As libbpf's `bpf_object_load`: a load that fails after pinning removes
/// the pins it made, and leaves the ones it reused.
#[test]
fn a_load_that_fails_removes_only_the_pins_it_made() {
    require_root();
    let root = PinDir::new("interop-failed-load");
    let failing = || {
        let mut spec = ObjectSpec::parse(BY_NAME).unwrap();
        let mut kind = rawbpf::object::section::ProgKind::parse("cgroup_skb/egress").unwrap();
        kind.expected_attach_type = 0xffff; // BPF_PROG_LOAD: EINVAL
        spec.program_mut("count_shared").unwrap().set_kind(kind);
        spec.load(&LoadOptions::default().pin_maps(root.path()))
    };
    let err = failing().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
    let pin = root.path().join("shared_counts");
    assert!(!pin.exists(), "the pin the failed load made is gone");
    assert!(!root.path().exists(), "and the root it made");

    let loaded = load_by_name(root.path());
    let id = pinned_id(&pin);
    drop(loaded);
    failing().unwrap_err();
    assert_eq!(pinned_id(&pin), id, "a pin reused by a failed load stays");

    // A root outside bpffs is refused before anything is made or loaded.
    let elsewhere = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("not-bpffs-{}", std::process::id()));
    rawbpf::sys::start_call_log();
    let err = ObjectSpec::parse(BY_NAME)
        .unwrap()
        .load(&LoadOptions::default().pin_maps(&elsewhere))
        .unwrap_err();
    let calls = rawbpf::sys::take_call_log();
    assert!(
        err.to_string().contains("not in a bpf file system"),
        "{err}"
    );
    assert!(!elsewhere.exists());
    assert!(
        !calls.contains(&rawbpf::uapi::Cmd::MapCreate),
        "no map made: {calls:?}"
    );
}
