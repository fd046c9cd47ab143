#!/usr/bin/env bash
# make vmtest KERNEL=5.10|6.1|6.12|all: run rawbpf's test suite, `rawbpf demo` and
# `rawbpf selftest` inside qemu on Debian's cloud kernels.
#
# The kernel image packages are fetched with apt-get download (not
# installed), unpacked and cached under target/vmtest. The tests and rawbpf
# are built statically for x86_64-unknown-linux-musl and packed, at the same
# absolute paths they have here, into a newc initramfs whose /init is
# tests/vm/init. The guest prints everything on its serial console; this
# script fails unless it sees the PASS sentinel, so a panic, a hang (timeout)
# or a missing line all fail.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK="$ROOT/target/vmtest"
TIMEOUT=${VMTEST_TIMEOUT:-360}
# shellcheck source=tests/vm/lib.sh
. "$ROOT/tests/vm/lib.sh"

usage() {
	echo "usage: $0 5.10|6.1|6.12|all" >&2
	exit 2
}

case "${1:-all}" in
	5.10 | 6.1 | 6.12) KERNELS=("$1") ;;
	all) KERNELS=(5.10 6.1 6.12) ;;
	*) usage ;;
esac

# Builds the static test binaries, rawbpf and the init; prints the test
# binaries' paths.
build() {
	log "building the tests and rawbpf for $TARGET"
	# opt-level 1 keeps debug assertions and overflow checks but runs several
	# times faster under TCG (object.rs's corruption sweep: 260 s -> ~60 s).
	(cd "$ROOT" && CARGO_PROFILE_DEV_OPT_LEVEL=${VMTEST_OPT_LEVEL:-1} cargo test --workspace --no-run --target "$TARGET" --message-format=json-render-diagnostics) |
		grep '"profile":{[^}]*"test":true' |
		sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' >"$WORK/tests.list"
	[ -s "$WORK/tests.list" ] || { log "cargo built no test binaries"; exit 1; }
	(cd "$ROOT/tests/vm/init" && cargo build --release --target "$TARGET" --target-dir "$ROOT/target/vm-init" >&2)
}

# Packs /init, the test binaries and rawbpf into a newc initramfs.
pack() {
	local stage="$WORK/stage" rawbpf="$ROOT/target/$TARGET/debug/rawbpf"
	rm -rf "$stage"
	mkdir -p "$stage"/{vmtest,dev,proc,sys,tmp,bin}
	cp "$ROOT/target/vm-init/$TARGET/release/rawbpf-vm-init" "$stage/init"
	[ -x "$rawbpf" ] || { log "no $rawbpf"; exit 1; }
	while read -r bin; do
		mkdir -p "$stage$(dirname "$bin")"
		# Keep symbols (backtraces name functions), drop DWARF (size).
		objcopy --strip-debug "$bin" "$stage$bin"
	done < <(cat "$WORK/tests.list"; echo "$rawbpf")
	# Each kernel's config as /boot/config-RELEASE, where a distribution keeps
	# it: Debian kernels have no /proc/config.gz, and the __kconfig extern
	# tests compare what programs read with it.
	mkdir -p "$stage/boot"
	for k in "${KERNELS[@]}"; do
		cp "$(dirname "$(fetch_kernel "$k")")"/config-* "$stage/boot/" 2>/dev/null || true
	done
	# What tests read from the source tree (the committed objects with their
	# listings, the fuzz regression corpus), at the same absolute paths.
	for d in bpf tests/corpus; do
		mkdir -p "$stage$ROOT/$d"
		cp -r "$ROOT/$d/." "$stage$ROOT/$d/"
	done
	cp "$WORK/tests.list" "$stage/vmtest/tests"
	echo "$rawbpf" >"$stage/vmtest/rawbpf"
	(cd "$stage" && find . | "${TOOLS[@]}" cpio -o -H newc --quiet) >"$WORK/initramfs.cpio"
}

# Boots one kernel; returns non-zero unless the PASS sentinel was seen.
run_kernel() {
	local want=$1 image log="$WORK/$1.log"
	image=$(fetch_kernel "$want")
	log "booting $(basename "$image") ($ACCEL)"
	local start=$SECONDS verdict rc=0
	verdict=$(boot_and_judge "$log" -m 1G -smp 2 \
		-kernel "$image" -initrd "$WORK/initramfs.cpio" \
		-append "console=ttyS0 panic=-1 oops=panic quiet rdinit=/init") || rc=1
	local took=$((SECONDS - start))
	local release
	release=$(sed -n 's/^RAWBPF-VMTEST-KERNEL: //p' "$log" | tr -d '\r' | head -n 1)
	# Tests that do not apply to this kernel say so (and check why).
	local na
	na=$(grep -ac 'NOT APPLICABLE:' "$log" || true)
	[ "$na" = 0 ] || verdict="$verdict ($na not applicable)"
	SUMMARY+=("$(printf '%-6s %-28s %-40s boot-to-result %ss' "$want" "${release:-?}" "$verdict" "$took")")
	return "$rc"
}

main() {
	mkdir -p "$WORK"
	ensure_tools
	for k in "${KERNELS[@]}"; do fetch_kernel "$k" >/dev/null; done
	build
	pack
	ACCEL=$(accel "$(fetch_kernel "${KERNELS[0]}")")
	SUMMARY=()
	local failed=0
	for k in "${KERNELS[@]}"; do
		run_kernel "$k" || failed=1
	done
	echo
	echo "vmtest summary:"
	printf '  %s\n' "${SUMMARY[@]}"
	exit "$failed"
}

main
