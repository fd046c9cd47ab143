//! The command's help, in one place: `rawbpf --help`, `rawbpf help CMD`,
//! `rawbpf CMD --help`, the synopsis a usage error shows, and the man page
//! (`rawbpf help --roff`, committed as contrib/man/rawbpf.1): all made from
//! the same texts, so they cannot drift apart.

/// One subcommand: its name, its synopsis, and what it does.
pub(super) struct Command {
    pub(super) name: &'static str,
    pub(super) synopsis: &'static str,
    pub(super) text: &'static str,
}

const RUN: Command = Command {
    name: "run",
    synopsis: "rawbpf run [OBJECT] [--cgroup DIR] [--pin DIR] [--pin-maps DIR] \
               [--legacy-attach[=multi|override]] [--no-attach] [--verbose] [--trace] [--btf FILE] [--threads N]",
    text: "\
Load every map and program of OBJECT (default: the embedded seed, the
bpf_timer_cancel example) and attach its cgroup programs to DIR (default:
a cgroup named 'rawbpf' under the cgroup2 root). Without --pin it stays
attached until SIGINT, SIGTERM or SIGHUP, then detaches and cleans up.
With --pin DIR (a directory inside a bpffs, or a name under its mount)
it pins the links, maps and programs not attached there, records
what it pinned in the symlink DIR/rawbpf_run and exits;
`rawbpf detach --pin DIR` undoes that, also after a run that was
killed halfway: the record is written before anything is attached or
pinned. Any failure or stop signal before the end undoes everything
the run did. Two runs (or a run and a detach) on one DIR: the second
fails at once.
  --cgroup DIR     the cgroup v2 directory to attach to
  --pin DIR        pin what was loaded and attached under DIR and exit
  --pin-maps DIR   where maps marked LIBBPF_PIN_BY_NAME are reused or
                   pinned, as libbpf does (default: the bpffs mount);
                   they stay, shared: detach leaves them
  --legacy-attach  attach with BPF_PROG_ATTACH instead of a BPF link, with
                   BPF_F_ALLOW_MULTI (the default) or BPF_F_ALLOW_OVERRIDE
  --no-attach      with --pin: attach nothing, pin every program as
                   DIR/prog_NAME (for systemd's BPFProgram= or
                   IPEgressFilterPath=)
  --verbose        ask the kernel about what it holds (ids, tags), list
                   the bpf() commands that loaded and attached it, and
                   say where the time went, step by step (own work,
                   bpf() calls, threads, each program's verification)
  --trace          print every bpf() call on stderr as it happens: the
                   command, its decoded fields, the result or errno, time
  --btf FILE       resolve CO-RE relocations against FILE (another
                   kernel's vmlinux BTF) instead of /sys/kernel/btf/vmlinux
  --threads N      verify programs on at most N threads (default: one per
                   allowed CPU, the shortest load; 1 takes the least CPU)",
};

const DETACH: Command = Command {
    name: "detach",
    synopsis: "rawbpf detach --pin DIR [--cgroup DIR] [--trace]",
    text: "\
Detach and unpin what `run --pin DIR` left, as its record there says,
whether the run finished or was killed; anything else in DIR is left
alone. If anything recorded cannot be undone (or stays attached), it
exits 1 with the reason per object and keeps the record: run it again
once the cause is gone. --cgroup is only needed if the cgroup moved,
and must be the one the programs are attached to.
  --pin DIR        the directory `run --pin` pinned under
  --cgroup DIR     the cgroup the programs are attached to, if it moved
  --trace          print every bpf() call on stderr",
};

const DEMO: Command = Command {
    name: "demo",
    synopsis: "rawbpf demo [--trace]",
    text: "\
Load the embedded seed, attach it to a fresh cgroup, show the kernel
drops a UDP datagram to 127.0.0.1 sent from inside it, detach, show the
datagram now passes, and clean everything up.
  --trace          print every bpf() call on stderr",
};

const SHOW: Command = Command {
    name: "show",
    synopsis: "rawbpf show [--cgroup DIR] [--pin DIR] [--json]",
    text: "\
What the kernel has attached directly to the cgroup DIR (each cgroup
attach type: program id, name, type, link id) and what is pinned under
the bpffs directory DIR (a name goes under the bpffs mount). Without
either: the cgroup2 root, and every directory under the bpffs mount
that `rawbpf run --pin` made (it holds a rawbpf_run record). What
cannot be read (another tool's file, a directory not readable) is
skipped with a note.
  --cgroup DIR     the cgroup v2 directory to list
  --pin DIR        the bpffs directory to list
  --json           one JSON object: {\"cgroups\": [{path, attached}],
                   \"pins\": [{path, kind, id, name, type, prog_id,
                   attach_type}], \"skipped\": [{path, reason}]}",
};

const SELFTEST: Command = Command {
    name: "selftest",
    synopsis: "rawbpf selftest [--trace]",
    text: "\
Check on the running kernel what bpf_timer_cancel is documented to
return (and what it does beyond that), and print a table; exit status 0
only if everything documented holds.
  --trace          print every bpf() call on stderr",
};

const INSPECT: Command = Command {
    name: "inspect",
    synopsis: "rawbpf inspect OBJECT [--json]",
    text: "\
What is inside OBJECT, as the loader sees it: sections, programs with
their program and attach types, maps with key and value types as C,
global data and its variables, relocations by kind, externs, and the
BTF fix-ups rawbpf makes. No kernel and no root needed.
  --json           one JSON object: {license, btf, \"programs\": [{name,
                   section, type, expected_attach_type, autoload}],
                   \"maps\": [{name, type, key_size, value_size,
                   max_entries, flags, pin_by_name}]}",
};

const DISASM: Command = Command {
    name: "disasm",
    synopsis: "rawbpf disasm OBJECT [--relocated] [--alu32] [PROGRAM]",
    text: "\
Every program's instructions in llvm-objdump's syntax, annotated after
';' with the map, global, function or helper each refers to.
  --relocated      each program as BPF_PROG_LOAD receives it: subprograms
                   appended, pseudo sources set, func_info and source
                   lines interleaved
  --alu32          sub-register loads and stores as llvm -mcpu=v3 prints them
No kernel and no root needed.",
};

/// The subcommands this build has (`make static` leaves out the
/// conformance suite and the object viewers).
pub(super) fn commands() -> Vec<&'static Command> {
    let mut all = vec![&RUN, &DETACH, &DEMO, &SHOW];
    if cfg!(feature = "selftest") {
        all.push(&SELFTEST);
    }
    if cfg!(feature = "tools") {
        all.extend([&INSPECT, &DISASM]);
    }
    all
}

/// The subcommand `name`, if this build has it.
pub(super) fn command(name: &str) -> Option<&'static Command> {
    commands().into_iter().find(|c| c.name == name)
}

const HEAD: &str = "rawbpf: a minimal eBPF loader over its own bpf() system calls";

const EXIT_STATUS: &str = "\
0 success, 1 failure, 2 bad usage, 3 (selftest) the kernel is too old to
test: it has no bpf_timer helpers (Linux 5.15 or later)";

/// `rawbpf --help`: every subcommand, its synopsis and text.
pub(super) fn usage() -> String {
    let mut out = format!("{HEAD}\n\nusage:\n");
    for c in commands() {
        out += &format!("  {}\n{}\n", c.synopsis, indent(c.text, 6));
    }
    out += "  rawbpf help [COMMAND] | rawbpf COMMAND --help | rawbpf --version\n";
    out += &format!("\nexit status: {EXIT_STATUS}");
    out
}

/// `rawbpf help CMD`, `rawbpf CMD --help`.
pub(super) fn help(c: &Command) -> String {
    format!("usage: {}\n\n{}", c.synopsis, c.text)
}

fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The man page rawbpf(1), in roff, from the same texts (made by the full
/// build; the initramfs build leaves it out).
#[cfg(feature = "tools")]
pub(super) fn roff() -> String {
    let mut out = format!(
        ".TH RAWBPF 1 \"\" \"rawbpf {}\" \"User Commands\"\n.SH NAME\nrawbpf \\- {}\n",
        env!("CARGO_PKG_VERSION"),
        HEAD.trim_start_matches("rawbpf: ")
    );
    out += ".SH SYNOPSIS\n";
    for c in commands() {
        out += &format!(".B {}\n.br\n", roff_escape(c.synopsis));
    }
    out += ".SH COMMANDS\n";
    for c in commands() {
        out += &format!(".SS {}\n.nf\n{}\n.fi\n", c.name, roff_escape(c.text));
    }
    out += &format!(".SH EXIT STATUS\n{}\n", roff_escape(EXIT_STATUS));
    out += ".SH SEE ALSO\n.BR bpftool (8),\n.BR bpf (2)\n";
    out
}

/// Text as roff shows it literally: backslashes doubled, and a line that
/// starts with `.` or `'` (a request) guarded with `\&`.
#[cfg(feature = "tools")]
fn roff_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .lines()
        .map(|l| {
            let l = l.replace('-', "\\-");
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
