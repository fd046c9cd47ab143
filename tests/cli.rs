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
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/man/rawbpf.1"))
            .unwrap();
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
