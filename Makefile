# rawbpf: the two commands a new user needs are `make run` and `make test`.
# Both work on a fresh Debian machine with a Rust toolchain, as root.

CARGO  ?= cargo
KERNEL ?= all
RELEASE := target/release/rawbpf

.PHONY: all build static run test test-deps soak check fmt clippy bpf bpf-check bpf-deps vmtest \
	vmtest-initramfs vmtest-dracut bench bench-smoke bench-deps

all: build

build:
	$(CARGO) build --release

# One static binary for an initramfs: target/static/x86_64-unknown-linux-musl/
# release/rawbpf. With a nightly toolchain (rust-src and the musl target are
# added to it) std is rebuilt with panics as plain aborts, which drops its
# backtrace symbolizer (most of 300 KB), and with std's optimize_for_size
# feature (its smaller sort and formatting code: 29 KB less). Stable otherwise.
# Aborting panics unwind nothing, so no unwind tables either (.eh_frame, 30 KB).
# examples/embed is built the same way: the loader alone (load, attach,
# pin; no demo, conformance suite or viewers), as a tool embedding the
# library would ship it; make bench reports both sizes.
# Built for size (opt-level z: 410 KB instead of 450 KB at s, about 1 ms
# slower on a CO-RE object), and without the `selftest` and `tools`
# features: an initramfs needs run, detach, show and demo, not the
# conformance suite or the object viewers.
# Non-PIE (relocation-model=static, as gcc -static links the libbpf peer):
# no run-time relocations to carry (.rela.dyn, 10 KB). LLVM's machine
# outliner folds repeated instruction sequences into calls (4 KB). Derived
# Debug prints names only (no output of the command uses a derived Debug's
# fields: 4 KB); code and read-only data share a segment (no page of
# padding between them: 4 KB). The toolchain's own lld links it, folding
# identical functions into one (--icf=all: 4 KB).
STATIC_RUSTFLAGS := -Zunstable-options -Cpanic=immediate-abort -Cforce-unwind-tables=no \
	-Crelocation-model=static -Cllvm-args=-enable-machine-outliner=always -Zfmt-debug=shallow \
	-Clink-self-contained=+linker -Clinker-features=+lld -Clink-arg=-Wl,--icf=all \
	-Clink-arg=-Wl,-z,noseparate-code
STATIC_TARGET := x86_64-unknown-linux-musl
STATIC_FLAGS := --release --no-default-features --target $(STATIC_TARGET) --target-dir target/static
static:
	@if rustup component add rust-src --toolchain nightly >/dev/null 2>&1 && \
	    rustup target add $(STATIC_TARGET) --toolchain nightly >/dev/null 2>&1 && \
	    RUSTFLAGS="$(STATIC_RUSTFLAGS)" \
	    CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
	    $(CARGO) +nightly build $(STATIC_FLAGS) --bin rawbpf --example embed \
		-Z build-std=std,panic_abort -Z build-std-features=optimize_for_size; then \
		echo "static: nightly, std rebuilt with immediate-abort panics"; \
	else \
		echo "static: no usable nightly toolchain; building with stable"; \
		rustup target add $(STATIC_TARGET) >/dev/null 2>&1; \
		$(CARGO) build $(STATIC_FLAGS) --bin rawbpf --example embed; \
	fi
	@ls -l target/static/$(STATIC_TARGET)/release/rawbpf \
		target/static/$(STATIC_TARGET)/release/examples/embed

# The main job: load the embedded seed, attach it to a fresh cgroup, prove it
# drops loopback egress while attached, detach, clean up.
run: build
	$(RELEASE) demo

# Unit tests and kernel tests (these load real programs: run as root), and
# contrib/ (boot scripts, dracut module, systemd unit) without a VM.
# tests/crash.rs kills rawbpf at each of its system calls with strace's
# fault injection, and tests/interop.rs builds a libbpf loader to compare
# with: test-deps installs strace, gcc and libbpf-dev when missing.
test: test-deps
	@if [ "$$(id -u)" != 0 ]; then \
		echo "make test: the kernel tests load BPF programs and need root (sudo make test), or run them in a VM with make vmtest"; \
		exit 1; \
	fi
	$(CARGO) test --workspace
	$(CARGO) build --no-default-features
	# A user's program against the loader alone (default-features = false).
	$(CARGO) run --no-default-features --example configure_and_count
	tests/contrib.sh

test-deps:
	@command -v strace >/dev/null && command -v gcc >/dev/null && [ -e /usr/include/bpf/libbpf.h ] || { \
		apt-get update && apt-get install -y --no-install-recommends strace gcc libc6-dev libbpf-dev; }

# Not in `make test`: 10,000 load -> attach -> detach cycles in one process;
# fds and the kernel's id lists must end as they started (tests/soak.rs).
soak:
	@[ "$$(id -u)" = 0 ] || { echo "make soak loads BPF programs and needs root"; exit 1; }
	$(CARGO) test --release --test soak -- --ignored --nocapture

fmt:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

check: fmt clippy doc bpf-check msrv

# The library's documentation builds without a broken link, with and
# without the optional features.
.PHONY: doc
doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --no-default-features

# The oldest Rust the crate says it builds with (Cargo.toml's rust-version):
# clippy's incompatible_msrv lint checks std APIs against it, and this
# builds every target with that very toolchain (rustup installs it).
MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
.PHONY: msrv
msrv:
	rustup toolchain install $(MSRV) --profile minimal >/dev/null 2>&1 || true
	$(CARGO) +$(MSRV) build --workspace --all-targets --target-dir target/msrv

# Rebuild the committed BPF objects (needs clang; `make bpf-deps` installs it).
bpf: bpf-deps
	$(MAKE) -C bpf

# Fail if a committed object differs from a fresh build of its source.
bpf-check: bpf-deps
	$(MAKE) -C bpf check

bpf-deps:
	@command -v clang >/dev/null && command -v llvm-strip >/dev/null && command -v llvm-objdump >/dev/null && \
		[ -e /usr/include/x86_64-linux-gnu/gnu/stubs-32.h ] || { \
		apt-get update && apt-get install -y --no-install-recommends clang llvm libc6-dev-i386; }

# Fuzz everything before the first syscall, the BTF parser and the
# instruction decoder (fuzz/, cargo-fuzz on nightly; both installed when
# missing): each target for FUZZ_SECONDS, seeded from the objects in bpf/,
# with a memory limit and a time limit per input. A finding stops its target
# and lands in fuzz/artifacts/<target>/: fix it, then copy it into
# tests/corpus/<target>/, which `make test` replays. The growing corpus is
# kept in fuzz/corpus/<target>/ (not committed).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= prepare btf decode
FUZZ_LIMITS  ?= -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=5
# The fuzzed code is safe Rust: AddressSanitizer finds nothing more in it but
# runs it ten times slower. Without it the RSS limit still holds; set
# FUZZ_SANITIZER=address for the per-allocation malloc limit too.
FUZZ_SANITIZER ?= none
.PHONY: fuzz fuzz-deps
fuzz: fuzz-deps
	$(CARGO) +nightly run -q --release --manifest-path fuzz/Cargo.toml --example seeds -- \
		fuzz/corpus bpf/*.bpf.o
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s" && \
		$(CARGO) +nightly fuzz run -s $(FUZZ_SANITIZER) $$t fuzz/corpus/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) $(FUZZ_LIMITS) -print_final_stats=1 \
			|| exit 1; \
	done

fuzz-deps:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz

# The test suite inside qemu on Debian kernels: KERNEL=5.10|6.1|6.12|all.
vmtest:
	tests/vm/run.sh $(KERNEL)

# Debian's mkinitramfs with contrib/initramfs-tools on the 6.12 cloud kernel,
# a root image whose init checks the policy held across switch_root; a
# second boot with rawbpf=off, where nothing may be attached. The tools are
# unpacked under target/vmtest/tools, never installed on the host.
vmtest-initramfs:
	tests/vm/initramfs.sh initramfs-tools

# The same with Debian's dracut (unpacked, not installed: it conflicts with
# initramfs-tools) and contrib/dracut as module 90rawbpf.
vmtest-dracut:
	tests/vm/initramfs.sh dracut

# rawbpf against a libbpf peer loader on the same jobs (bench/, README
# "make bench"): one table per object. Noisy, so not in CI; BENCH_RUNS=N
# runs per loader (31), BENCH_OBJECTS="..." to choose the objects.
bench: static bench-deps
	$(MAKE) -C bench run

# What CI runs: the bench builds, its generated objects are current, and
# three runs of the seed work and take exactly 7 + 1 + 3 bpf() calls.
bench-smoke: static bench-deps bpf-deps
	$(MAKE) -C bench check smoke

# The kernel's selftests' BPF programs (linux-source-6.12) loaded by rawbpf
# and by libbpf 1.5 on this kernel: a table of what each loads (as root;
# bench/corpus/Makefile says how, README.md "Against libbpf" shows it).
.PHONY: corpus
corpus:
	$(MAKE) -C bench/corpus

# strace, and the static libraries the peer links (libbpf, libelf, zlib, zstd).
bench-deps:
	@command -v strace >/dev/null && command -v cc >/dev/null && [ -e /usr/include/bpf/libbpf.h ] && \
		(for l in libbpf.a libelf.a libz.a libzstd.a; do [ -e "$$(cc -print-file-name=$$l)" ] || exit 1; done) || { \
		apt-get update && apt-get install -y --no-install-recommends \
			strace gcc libc6-dev libbpf-dev libelf-dev zlib1g-dev libzstd-dev; }

# Installs the command, its man page, bash completion and the boot
# integrations: PREFIX (/usr/local) and DESTDIR (a staging root) as usual.
# The hooks and the systemd unit are written with the installed binary's path.
PREFIX  ?= /usr/local
DESTDIR ?=
INSTALL_PATHS = sed 's|/usr/local/sbin/rawbpf|$(PREFIX)/sbin/rawbpf|g'
.PHONY: install
install: build
	install -D -m 0755 $(RELEASE) $(DESTDIR)$(PREFIX)/sbin/rawbpf
	install -D -m 0644 contrib/man/rawbpf.1 $(DESTDIR)$(PREFIX)/share/man/man1/rawbpf.1
	install -D -m 0644 contrib/bash-completion/rawbpf \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/rawbpf
	install -D -m 0755 contrib/initramfs-tools/init-top \
		$(DESTDIR)$(PREFIX)/share/initramfs-tools/scripts/init-top/rawbpf
	install -D -m 0755 contrib/dracut/rawbpf-load.sh \
		$(DESTDIR)$(PREFIX)/lib/dracut/modules.d/90rawbpf/rawbpf-load.sh
	install -d $(DESTDIR)$(PREFIX)/share/initramfs-tools/hooks \
		$(DESTDIR)$(PREFIX)/lib/dracut/modules.d/90rawbpf $(DESTDIR)$(PREFIX)/lib/systemd/system
	$(INSTALL_PATHS) contrib/initramfs-tools/hook > $(DESTDIR)$(PREFIX)/share/initramfs-tools/hooks/rawbpf
	$(INSTALL_PATHS) contrib/dracut/module-setup.sh \
		> $(DESTDIR)$(PREFIX)/lib/dracut/modules.d/90rawbpf/module-setup.sh
	$(INSTALL_PATHS) contrib/systemd/rawbpf@.service \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/rawbpf@.service
	chmod 0755 $(DESTDIR)$(PREFIX)/share/initramfs-tools/hooks/rawbpf \
		$(DESTDIR)$(PREFIX)/lib/dracut/modules.d/90rawbpf/module-setup.sh
	install -D -m 0644 contrib/initramfs-tools/rawbpf.conf \
		$(DESTDIR)$(PREFIX)/share/doc/rawbpf/examples/rawbpf.conf
