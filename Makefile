# rawbpf: the two commands a new user needs are `make run` and `make test`.
# Both work on a fresh Debian machine with a Rust toolchain, as root.

CARGO  ?= cargo
KERNEL ?= all
RELEASE := target/release/rawbpf

.PHONY: all build run test check fmt clippy bpf bpf-check bpf-deps vmtest

all: build

build:
	$(CARGO) build --release

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

# The test suite inside qemu on Debian kernels: KERNEL=6.1|6.12|all.
vmtest:
	tests/vm/run.sh $(KERNEL)
