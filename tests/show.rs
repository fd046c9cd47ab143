//! `rawbpf show`: what it reports must be what the kernel holds (ids from
//! the attachments and pins this test made), and bad paths fail clearly.

mod common;

use std::process::Command;

use common::*;
use rawbpf::attach::cgroup::{self, AttachMode};
use rawbpf::show::{self, PinKind};
use rawbpf::sys::{self, AttachFlags};
use rawbpf::uapi::{attach_type, prog_type};
use rawbpf::Error;

#[test]
fn show_lists_link_and_legacy_attachments_with_their_ids() {
    let cg = test_cgroup();
    let by_link = common::load(policy_object()).unwrap();
    let by_attach = common::load(policy_object()).unwrap();
    let p1 = by_link.program("bpf_prog1").unwrap();
    let p2 = by_attach.program("bpf_prog1").unwrap();
    let id1 = p1.info().unwrap().0.id;
    let id2 = p2.info().unwrap().0.id;

    assert_eq!(show::cgroup_attachments(cg.path()).unwrap(), []);
    let link = cgroup::attach(p1, &cg, AttachMode::Link).unwrap();
    let link_id = sys::link_info(link.link().unwrap()).unwrap().id;
    let legacy = cgroup::attach(p2, &cg, AttachMode::Legacy(AttachFlags::ALLOW_MULTI)).unwrap();

    let mut got = show::cgroup_attachments(cg.path()).unwrap();
    got.sort_by_key(|a| a.prog_id);
    let mut want = vec![
        show::Attached {
            attach_type: attach_type::CGROUP_INET_EGRESS,
            flags: AttachFlags::ALLOW_MULTI,
            prog_id: id1,
            prog_name: "bpf_prog1".into(),
            prog_type: prog_type::CGROUP_SKB,
            link_id: Some(link_id),
        },
        show::Attached {
            attach_type: attach_type::CGROUP_INET_EGRESS,
            flags: AttachFlags::ALLOW_MULTI,
            prog_id: id2,
            prog_name: "bpf_prog1".into(),
            prog_type: prog_type::CGROUP_SKB,
            link_id: None,
        },
    ];
    want.sort_by_key(|a| a.prog_id);
    assert_eq!(got, want);

    // The command prints the same, exit status 0.
    let out = Command::new(rawbpf_bin())
        .args(["show", "--cgroup", cg.path().to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("2 program(s) attached"), "{text}");
    assert!(text.contains(&format!("prog id {id1} ")), "{text}");
    assert!(text.contains(&format!("link id {link_id} ")), "{text}");
    assert!(text.contains(&format!("prog id {id2} ")), "{text}");
    assert!(text.contains("prog_attach (multi)"), "{text}");

    legacy.detach().unwrap();
    link.detach().unwrap();
    assert_eq!(show::cgroup_attachments(cg.path()).unwrap(), []);
}

#[test]
fn show_lists_pins_with_kind_id_and_name() {
    let cg = test_cgroup();
    let pins = PinDir::new("show");
    let loaded = common::load(policy_object()).unwrap();
    let attachments = cgroup::attach_all(&loaded, &cg, AttachMode::Link).unwrap();
    let link_id = sys::link_info(attachments[0].link().unwrap()).unwrap().id;
    let prog_id = loaded.program("bpf_prog1").unwrap().info().unwrap().0.id;
    let dir = rawbpf::pin::PinDir {
        path: pins.path().to_path_buf(),
        exists: false,
    };
    rawbpf::pin::pin_run(&dir, &loaded, attachments, None).unwrap();
    // A program pinned in a subdirectory is found too.
    let sub = pins.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let prog = loaded.program("bpf_prog1").unwrap();
    rawbpf::kernel::bpffs::pin(prog.fd(), &sub.join("prog")).unwrap();

    let listing = show::pins(pins.path()).unwrap();
    assert_eq!(listing.skipped, []);
    let got = listing.pins;
    let find = |rel: &str| {
        got.iter()
            .find(|p| p.path == pins.path().join(rel))
            .unwrap_or_else(|| panic!("no {rel} in {got:?}"))
    };
    // The maps, the link and the program in sub/; run's record is a
    // symlink beside them, not a pin, and not listed.
    assert_eq!(got.len(), loaded.maps.len() + 2, "{got:?}");
    assert!(pins.path().join(rawbpf::pin::RECORD).is_symlink());
    assert!(got.iter().all(|p| !p.path.ends_with(rawbpf::pin::RECORD)));
    let link = find("link_bpf_prog1");
    assert_eq!(
        (
            link.kind,
            link.id,
            link.name.as_str(),
            link.type_,
            link.link
        ),
        (
            PinKind::Link,
            link_id,
            "bpf_prog1",
            sys::link_type::CGROUP,
            Some((prog_id, Some(attach_type::CGROUP_INET_EGRESS)))
        )
    );
    for map in &loaded.maps {
        let info = map.info().unwrap();
        let p = find(&rawbpf::kernel::bpffs::pin_name(
            rawbpf::kernel::bpffs::MAP_PREFIX,
            map.name(),
        ));
        assert_eq!(
            (p.kind, p.id, p.type_),
            (PinKind::Map, info.id, info.map_type)
        );
    }
    let p = find("sub/prog");
    assert_eq!(
        (p.kind, p.id, p.name.as_str()),
        (PinKind::Prog, prog_id, "bpf_prog1")
    );

    let out = Command::new(rawbpf_bin())
        .args(["show", "--pin", pins.path().to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(&format!("link id {link_id} ")), "{text}");
    assert!(text.contains("map_hmap"), "{text}");
    std::fs::remove_file(sub.join("prog")).unwrap();
    std::fs::remove_dir(&sub).unwrap();
    drop(pins);
    // The pinned link was the only reference: with its pin gone, so is it.
    drop(loaded);
    assert!(gone_soon(sys::IdKind::Link, link_id));
}

#[test]
fn show_refuses_missing_and_wrong_paths() {
    require_root();
    let missing = std::path::Path::new("/nonexistent-rawbpf-show");
    match show::cgroup_attachments(missing) {
        Err(e @ Error::Io { .. }) => assert_eq!(e.raw_os_error(), Some(libc::ENOENT)),
        other => panic!("{other:?}"),
    }
    match show::pins(missing) {
        Err(e @ Error::Io { .. }) => assert_eq!(e.raw_os_error(), Some(libc::ENOENT)),
        other => panic!("{other:?}"),
    }
    // /proc is a directory, but neither a cgroup2 nor a bpffs.
    let e = show::cgroup_attachments(std::path::Path::new("/proc")).unwrap_err();
    assert!(
        e.to_string().contains("not in a cgroup2 file system"),
        "{e}"
    );
    let e = show::pins(std::path::Path::new("/proc")).unwrap_err();
    assert!(e.to_string().contains("not in a bpffs file system"), "{e}");

    for args in [
        ["show", "--cgroup", "/proc"],
        ["show", "--cgroup", "/nonexistent-rawbpf-show"],
    ] {
        let out = Command::new(rawbpf_bin()).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(args[2]), "{err}");
    }
    let out = Command::new(rawbpf_bin())
        .args(["show", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
