#!/usr/bin/env bash
# make vmtest KERNEL=6.1|6.12|all: run rawbpf's test suite, `rawbpf demo` and
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
TARGET=x86_64-unknown-linux-musl
TIMEOUT=${VMTEST_TIMEOUT:-360}
APT=(apt-get -o DPkg::Lock::Timeout=300 -q)

usage() {
	echo "usage: $0 6.1|6.12|all" >&2
	exit 2
}

case "${1:-all}" in
	6.1 | 6.12) KERNELS=("$1") ;;
	all) KERNELS=(6.1 6.12) ;;
	*) usage ;;
esac

log() { printf '==> %s\n' "$*" >&2; }

# qemu-system-x86 must match the installed qemu-utils, which on this kind of
# machine comes from bookworm-backports; 6.12 kernels are there too.
ensure_tools() {
	local need=()
	command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
	command -v cpio >/dev/null || need+=(cpio)
	command -v dpkg-deb >/dev/null || need+=(dpkg)
	if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
		log "adding the bookworm-backports suite to apt's sources"
		cat >/etc/apt/sources.list.d/bookworm-backports.sources <<-'EOF'
			Types: deb
			URIs: http://deb.debian.org/debian
			Suites: bookworm-backports
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
		APT_UPDATED=
	fi
	if [ ${#need[@]} -gt 0 ]; then
		apt_update
		local suite=()
		if dpkg-query -W -f '${Version}' qemu-utils 2>/dev/null | grep -q bpo; then
			suite=(-t bookworm-backports)
		fi
		log "installing ${need[*]}"
		"${APT[@]}" install -y --no-install-recommends "${suite[@]}" "${need[@]}" >&2
	fi
	rustup target add "$TARGET" >/dev/null 2>&1 || true
}

APT_UPDATED=
apt_update() {
	if [ -z "$APT_UPDATED" ]; then
		"${APT[@]}" update >&2
		APT_UPDATED=1
	fi
}

# The newest linux-image-<version>-cloud-amd64-unsigned for a major.minor.
kernel_package() {
	local want=$1
	apt-cache search --names-only "^linux-image-${want//./\\.}[.-].*-cloud-amd64-unsigned\$" |
		awk '{print $1}' | sort -V | tail -n 1
}

# Prints the path of the unpacked vmlinuz for a kernel, fetching it once.
fetch_kernel() {
	local want=$1 dir="$WORK/kernel-$1"
	local image
	image=$(ls "$dir"/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)
	if [ -n "$image" ]; then
		echo "$image"
		return
	fi
	local pkg
	pkg=$(kernel_package "$want")
	if [ -z "$pkg" ]; then
		apt_update
		pkg=$(kernel_package "$want")
	fi
	[ -n "$pkg" ] || { log "no linux-image-$want cloud package in apt's lists"; exit 1; }
	log "fetching $pkg"
	mkdir -p "$WORK/debs" "$dir"
	(cd "$WORK/debs" && "${APT[@]}" -o APT::Sandbox::User=root download "$pkg" >&2)
	dpkg-deb -x "$WORK"/debs/"$pkg"_*.deb "$dir"
	ls "$dir"/boot/vmlinuz-* | head -n 1
}

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
	cp "$WORK/tests.list" "$stage/vmtest/tests"
	echo "$rawbpf" >"$stage/vmtest/rawbpf"
	(cd "$stage" && find . | cpio -o -H newc --quiet) >"$WORK/initramfs.cpio"
}

# KVM when it really works, else TCG. /dev/kvm can exist and still fail on
# a real guest (it does on this project's machines), so boot the kernel under
# KVM without an initramfs for a few seconds and look for its banner.
accel() {
	local image=$1
	if [ -w /dev/kvm ] && timeout 20 qemu-system-x86_64 -accel kvm -cpu host -m 256M \
		-nodefaults -no-user-config -display none -no-reboot -serial stdio \
		-kernel "$image" -append "console=ttyS0 panic=-1" </dev/null 2>/dev/null |
		grep -q -m1 'Linux version'; then
		echo "-accel kvm -cpu host"
	else
		echo "-accel tcg -cpu max"
	fi
}

# Boots one kernel; returns non-zero unless the PASS sentinel was seen.
run_kernel() {
	local want=$1 image log="$WORK/$1.log"
	image=$(fetch_kernel "$want")
	log "booting $(basename "$image") ($ACCEL)"
	local start=$SECONDS rc=0
	# shellcheck disable=SC2086
	timeout --foreground "$TIMEOUT" qemu-system-x86_64 $ACCEL -m 1G -smp 2 \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-kernel "$image" -initrd "$WORK/initramfs.cpio" \
		-append "console=ttyS0 panic=-1 oops=panic quiet rdinit=/init" \
		</dev/null | tee "$log" || rc=$?
	local took=$((SECONDS - start))
	local verdict
	if [ "$rc" = 124 ]; then
		verdict="FAIL (timed out after ${TIMEOUT}s)"
	elif grep -q '^RAWBPF-VMTEST-RESULT: PASS' "$log" && [ "$rc" = 1 ]; then
		verdict=PASS
	elif grep -qE 'Kernel panic|end Kernel panic' "$log"; then
		verdict="FAIL (kernel panic)"
	elif grep -q '^RAWBPF-VMTEST-RESULT: FAIL' "$log"; then
		verdict="FAIL ($(grep '^RAWBPF-VMTEST-RESULT' "$log" | cut -d' ' -f3-))"
	else
		verdict="FAIL (no result line; qemu exit $rc)"
	fi
	local release
	release=$(sed -n 's/^RAWBPF-VMTEST-KERNEL: //p' "$log" | tr -d '\r' | head -n 1)
	SUMMARY+=("$(printf '%-6s %-28s %-40s boot-to-result %ss' "$want" "${release:-?}" "$verdict" "$took")")
	[ "$verdict" = PASS ]
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
