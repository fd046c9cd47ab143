//! The command fits its neighbours: help in every form a user tries, usage
//! errors that name the subcommand's options, a man page and a bash
//! completion made from (or checked against) the same help text.

mod common;

use std::process::{Command, Output};

use common::rawbpf_bin;

fn rawbpf(args: &[&str]) -> Output {
    Command::new(rawbpf_bin())
        .args(args)
        .output()
        .expect("run rawbpf")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const COMMANDS: [&str; 7] = [
    "run", "detach", "demo", "show", "selftest", "inspect", "disasm",
];

#[test]
fn every_form_of_help_works_for_every_command() {
    for cmd in COMMANDS {
        for args in [vec![cmd, "--help"], vec![cmd, "-h"], vec!["help", cmd]] {
            let out = rawbpf(&args);
            assert!(out.status.success(), "rawbpf {args:?}: {out:?}");
            let text = stdout(&out);
            assert!(
                text.starts_with(&format!("usage: rawbpf {cmd}")),
                "{args:?}: {text}"
            );
        }
        // --help wins over anything else on the line (inspect must not open it).
        let out = rawbpf(&[cmd, "x", "--help"]);
        assert!(out.status.success(), "{cmd} x --help: {out:?}");
    }
    for args in [&[][..], &["--help"], &["-h"], &["help"]] {
        let out = rawbpf(args);
        assert!(out.status.success());
        let text = stdout(&out);
        for cmd in COMMANDS {
            assert!(
                text.contains(&format!("rawbpf {cmd}")),
                "{args:?} lists {cmd}"
            );
        }
    }
    let out = rawbpf(&["--version"]);
    assert_eq!(
        stdout(&out).trim(),
        format!("rawbpf {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_name_the_subcommands_options_and_exit_2() {
    for (args, synopsis) in [
        (
            &["run", "--bogus"][..],
            "usage: rawbpf run [OBJECT] [--cgroup DIR]",
        ),
        (&["detach"], "usage: rawbpf detach --pin DIR"),
        (
            &["show", "--bogus"],
            "usage: rawbpf show [--cgroup DIR] [--pin DIR]",
        ),
        (&["demo", "extra"], "usage: rawbpf demo [--trace]"),
        (&["disasm"], "usage: rawbpf disasm OBJECT"),
        (
            &["run", "--threads", "0"],
            "--threads needs a count of 1 or more, not '0'",
        ),
        (&["run", "--threads"], "--threads needs a value"),
    ] {
        let out = rawbpf(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(synopsis), "{args:?}: {stderr}");
    }
    let out = rawbpf(&["help", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_man_page_is_the_help_text() {
    // Embedded at build time, so the VM tests need no source tree.
    let committed = include_str!("../contrib/man/rawbpf.1");
    let made = stdout(&rawbpf(&["help", "--roff"]));
    assert_eq!(
        committed, made,
        "contrib/man/rawbpf.1 is stale: regenerate it with `rawbpf help --roff > contrib/man/rawbpf.1`"
    );
}

#[test]
fn the_bash_completion_knows_every_command_and_option() {
    let completion = include_str!("../contrib/bash-completion/rawbpf");
    for cmd in COMMANDS {
        let help = stdout(&rawbpf(&["help", cmd]));
        let synopsis = help.lines().next().unwrap();
        assert!(
            completion.contains(&format!("\t{cmd})"))
                || completion.contains(&format!("{cmd} |"))
                || completion.contains(&format!("| {cmd})")),
            "{cmd} has no case"
        );
        for word in synopsis.split(['[', ']', ' ', '=']) {
            if word.starts_with("--") {
                assert!(completion.contains(word), "{cmd}'s {word} is not completed");
            }
        }
    }
}

#[test]
fn show_with_no_arguments_lists_runs_and_skips_what_it_cannot_read() {
    common::require_root();
    // A run pinned under the bpffs mount, beside whatever else is there
    // (the kernel's own progs.debug, other tools' pins).
    let cg = common::test_cgroup();
    let pins = common::PinDir::new("show-all");
    let policy = common::PolicyArg::new();
    let dir = pins.path().to_str().unwrap();
    let cgroup = cg.path().to_str().unwrap();
    let mut args = vec!["run"];
    args.extend(policy.args());
    args.extend(["--cgroup", cgroup, "--pin", dir]);
    common::rawbpf_ok(&args);
    let text = common::rawbpf_ok(&["show"]);
    assert!(text.contains(&format!("pinned under {dir}:")), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&common::rawbpf_ok(&["show", "--json"])).expect("show --json is JSON");
    let pinned = json["pins"].as_array().unwrap();
    let ours: Vec<_> = pinned
        .iter()
        .filter(|p| p["path"].as_str().unwrap().starts_with(dir))
        .collect();
    assert!(ours.iter().any(|p| p["kind"] == "link"), "{json}");
    // The kernel's own iterator pins, where this kernel has them, are
    // listed as skipped at the bpffs root, not an error.
    let root = rawbpf::kernel::mounts::find_mount("bpf").unwrap().unwrap();
    if root.join("progs.debug").exists() {
        let out = rawbpf(&["show", "--pin", root.to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{out:?}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            json["skipped"].to_string().contains("progs.debug"),
            "{json}"
        );
    }
    common::rawbpf_ok(&["detach", "--pin", dir]);
}

#[test]
fn inspect_json_names_programs_and_maps() {
    let object = common::ObjectFile::new(include_bytes!("../bpf/globals.bpf.o"));
    let text = common::rawbpf_ok(&["inspect", object.path(), "--json"]);
    let json: serde_json::Value = serde_json::from_str(&text).expect("inspect --json is JSON");
    assert_eq!(json["license"], "GPL");
    assert_eq!(json["programs"][0]["name"], "count_packets");
    assert_eq!(json["programs"][0]["type"], "CGROUP_SKB");
    let maps: Vec<&str> = json["maps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        maps.contains(&".rodata") && maps.contains(&".bss"),
        "{maps:?}"
    );
}
