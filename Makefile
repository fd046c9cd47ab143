# rawbpf: the two commands a new user needs are `make run` and `make test`.
# Both work on a fresh Debian machine with a Rust toolchain, as root.

CARGO  ?= cargo
KERNEL ?= all
RELEASE := target/release/rawbpf

.PHONY: all build static run test check fmt clippy bpf bpf-check bpf-deps vmtest

all: build

build:
	$(CARGO) build --release

# One static binary for an initramfs: target/static/x86_64-unknown-linux-musl/
# release/rawbpf. With a nightly toolchain (rust-src and the musl target are
# added to it) std is rebuilt with panics as plain aborts, which drops its
# backtrace symbolizer: about 400 KB instead of 750 KB. Stable otherwise.
STATIC_TARGET := x86_64-unknown-linux-musl
STATIC_FLAGS := --release --target $(STATIC_TARGET) --target-dir target/static
static:
	@if rustup component add rust-src --toolchain nightly >/dev/null 2>&1 && \
	    rustup target add $(STATIC_TARGET) --toolchain nightly >/dev/null 2>&1 && \
	    RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" \
	    $(CARGO) +nightly build $(STATIC_FLAGS) -Z build-std=std,panic_abort; then \
		echo "static: nightly, std rebuilt with immediate-abort panics"; \
	else \
		echo "static: no usable nightly toolchain; building with stable"; \
		rustup target add $(STATIC_TARGET) >/dev/null 2>&1; \
		$(CARGO) build $(STATIC_FLAGS); \
	fi
	@ls -l target/static/$(STATIC_TARGET)/release/rawbpf

# The main job: load the embedded seed, attach it to a fresh cgroup, prove it
# drops loopback egress while attached, detach, clean up.
run: build
	$(RELEASE) demo

# Unit tests and kernel tests (these load real programs: run as root).
test:
	@if [ "$$(id -u)" != 0 ]; then \
		echo "make test: the kernel tests load BPF programs and need root (sudo make test), or run them in a VM with make vmtest"; \
		exit 1; \
	fi
	$(CARGO) test --workspace

fmt:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

check: fmt clippy bpf-check

# Rebuild the committed BPF objects (needs clang; `make bpf-deps` installs it).
bpf: bpf-deps
	$(MAKE) -C bpf

# Fail if a committed object differs from a fresh build of its source.
bpf-check: bpf-deps
	$(MAKE) -C bpf check

bpf-deps:
	@command -v clang >/dev/null && command -v llvm-strip >/dev/null && \
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

# The test suite inside qemu on Debian kernels: KERNEL=6.1|6.12|all.
vmtest:
	tests/vm/run.sh $(KERNEL)
