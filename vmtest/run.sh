#!/usr/bin/env bash
# vmtest/run.sh KERNEL: run rawbpf's test suite, `rawbpf demo` and `rawbpf
# selftest` inside qemu on Debian's cloud kernels. KERNEL is 6.1, 6.12 or all
# (both, one after the other). `make vmtest KERNEL=...` calls this.
#
#  1. Installs what is missing: qemu-system-x86 (from bookworm-backports when
#     the installed qemu-utils comes from there, adding that suite to apt's
#     sources if needed), cpio, jq; adds the musl target to rustup.
#  2. Fetches the newest linux-image-<series>*-cloud-amd64-unsigned that apt
#     knows with `apt-get download` (not installed: unpacked with dpkg-deb),
#     cached under target/vmtest/, so a second run downloads nothing.
#  3. Builds every test executable of the workspace and the rawbpf binary
#     statically for x86_64-unknown-linux-musl, and vmtest/init, the guest's
#     /init (see its module doc for what it does).
#  4. Packs them into a newc initramfs, each binary at the absolute path it
#     has here: tests find rawbpf through the compiled-in
#     env!("CARGO_BIN_EXE_rawbpf").
#  5. Boots each kernel (KVM when it really works, else TCG), shows and logs
#     the serial console to target/vmtest/<kernel>.log, and judges it: PASS
#     only with the guest's `RAWBPF-VMTEST-RESULT: PASS` line and no kernel
#     panic, before the time limit. Anything else fails.
#
# Environment: VMTEST_TIMEOUT (seconds per kernel, default 240), VMTEST_ACCEL
# (auto, kvm or tcg), VMTEST_APPEND (more kernel parameters), VMTEST_REFRESH=1
# (apt-get update and take the newest kernels even if older ones are cached),
# VMTEST_OPT_LEVEL (of the tests' dev profile, default 1; 0 is cargo's own).
set -euo pipefail
shopt -s nullglob lastpipe

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$ROOT/target/vmtest
INIT_DIR=$ROOT/vmtest/init
INIT_TARGET_DIR=$ROOT/target/vmtest-init
TARGET=x86_64-unknown-linux-musl
TIMEOUT=${VMTEST_TIMEOUT:-240}
# The dev profile at opt-level 1 (debug assertions and overflow checks stay
# on): under TCG, unoptimised code runs 3-4 times slower still, and the
# suite's CPU-bound tests (object.rs corrupts every byte of the seed) would
# not fit the time limit.
OPT_LEVEL=${VMTEST_OPT_LEVEL:-1}
APT=(apt-get -q -o DPkg::Lock::Timeout=300)

usage() {
	cat >&2 <<-EOF
		usage: vmtest/run.sh KERNEL     (or: make vmtest KERNEL=...)
		  KERNEL: 6.1   Debian 12's linux-image-6.1.*-cloud-amd64-unsigned
		          6.12  Debian's 6.12 cloud image for bookworm (backports)
		          all   both, one after the other (the default)
		Runs the workspace's tests, rawbpf demo and rawbpf selftest in qemu;
		logs go to target/vmtest/<kernel>.log.
	EOF
	exit 2
}

log() { printf 'vmtest: %s\n' "$*" >&2; }
die() {
	printf 'vmtest: error: %s\n' "$*" >&2
	exit 1
}

[ $# -le 1 ] || usage
case "${1:-all}" in
6.1 | 6.12) SERIES=("$1") ;;
all) SERIES=(6.1 6.12) ;;
-h | --help) usage ;;
*)
	echo "vmtest: unknown KERNEL '${1}'" >&2
	usage
	;;
esac
[[ $OPT_LEVEL =~ ^[0-3]$ ]] || die "VMTEST_OPT_LEVEL must be 0, 1, 2 or 3 (got '$OPT_LEVEL')"
if ! [[ $TIMEOUT =~ ^[0-9]+$ ]] || [ "$TIMEOUT" -lt 60 ]; then
	die "VMTEST_TIMEOUT must be a number of seconds, at least 60 (got '$TIMEOUT')"
fi

# --- tools -----------------------------------------------------------------

APT_UPDATED=
apt_update() {
	if [ -z "$APT_UPDATED" ]; then
		log "apt-get update"
		"${APT[@]}" update >&2
		APT_UPDATED=1
	fi
}

# shellcheck source=/dev/null
codename() { (. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}"); }

has_backports_source() {
	grep -Eqs "^[^#]*[[:space:]]$(codename)-backports([[:space:]]|\$)" \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
}

ensure_backports_source() {
	has_backports_source && return
	local file
	file=/etc/apt/sources.list.d/$(codename)-backports.sources
	log "adding the $(codename)-backports suite to apt's sources ($file)"
	cat >"$file" <<-EOF
		Types: deb
		URIs: http://deb.debian.org/debian
		Suites: $(codename)-backports
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	APT_UPDATED=
}

# Whether the installed qemu-utils is a backports build: qemu-system-x86
# must then come from there too (the two share qemu-system-common's version).
qemu_utils_from_backports() {
	local version
	version=$(dpkg-query -W -f '${Version}' qemu-utils 2>/dev/null) || return 1
	[ -n "$version" ] || return 1
	[[ $version == *bpo* ]] && return 0
	apt-cache policy qemu-utils 2>/dev/null | awk '
		/^ \*\*\* / { mine = 1; next }
		/^     [^ ]/ { mine = 0 }
		mine && /-backports/ { found = 1 }
		END { exit !found }'
}

ensure_tools() {
	local need=() need_qemu=
	command -v qemu-system-x86_64 >/dev/null || need_qemu=1
	command -v cpio >/dev/null || need+=(cpio)
	command -v jq >/dev/null || need+=(jq)
	command -v objcopy >/dev/null || need+=(binutils)
	command -v timeout >/dev/null || die "timeout (coreutils) is missing"
	command -v cargo >/dev/null || die "cargo is missing: install a Rust toolchain with rustup"
	if [ -n "$need_qemu" ] || [ ${#need[@]} -gt 0 ]; then
		[ "$(id -u)" = 0 ] || die "missing ${need[*]} ${need_qemu:+qemu-system-x86}: run as root so that this script can install them with apt-get"
		if [ ${#need[@]} -gt 0 ]; then
			apt_update
			log "installing ${need[*]}"
			"${APT[@]}" install -y --no-install-recommends "${need[@]}" >&2
		fi
		if [ -n "$need_qemu" ]; then
			local suite=()
			if qemu_utils_from_backports; then
				ensure_backports_source
				suite=(-t "$(codename)-backports")
			fi
			apt_update
			log "installing qemu-system-x86 ${suite[*]:+(${suite[*]})}"
			"${APT[@]}" install -y --no-install-recommends "${suite[@]}" qemu-system-x86 >&2
		fi
	fi
	if command -v rustup >/dev/null; then
		rustup target add "$TARGET" >&2
	else
		log "no rustup: assuming the $TARGET standard library is installed"
	fi
}

# --- kernels ---------------------------------------------------------------

declare -A IMAGE KPKG

# Prints "package version" for the newest cloud unsigned image of a series
# that apt knows, or nothing.
newest_kernel_package() {
	local series=$1 name version best='' best_version=
	apt-cache search --names-only "^linux-image-${series//./\\.}[.-].*-cloud-amd64-unsigned\$" 2>/dev/null |
		awk '{print $1}' | while read -r name; do
		version=$(apt-cache policy "$name" | awk '$1 == "Candidate:" {print $2}')
		if [ -z "$version" ] || [ "$version" = "(none)" ]; then continue; fi
		if [ -z "$best" ] || dpkg --compare-versions "$version" gt "$best_version"; then
			best=$name best_version=$version
		fi
	done
	[ -z "$best" ] || echo "$best $best_version"
}

# apt-get download PKG=VERSION to the file DEB.
download() {
	local pkg=$1 version=$2 deb=$3 partial=$WORK/debs/partial
	log "downloading $pkg $version"
	rm -rf "$partial"
	mkdir -p "$partial"
	(cd "$partial" && "${APT[@]}" -o APT::Sandbox::User=root download "$pkg=$version" >&2) || return 1
	local got=("$partial"/*.deb)
	[ ${#got[@]} -eq 1 ] || return 1
	mv "${got[0]}" "$deb"
}

# Sets IMAGE[series] to an unpacked vmlinuz, downloading only if needed.
fetch_kernel() {
	local series=$1 found pkg='' version='' dir vmlinuz deb
	[ -z "${VMTEST_REFRESH:-}" ] || apt_update
	found=$(newest_kernel_package "$series")
	if [ -z "$found" ] && [ -z "$APT_UPDATED" ]; then
		apt_update
		found=$(newest_kernel_package "$series")
	fi
	if [ -z "$found" ] && [ "$series" != 6.1 ] && ! has_backports_source; then
		ensure_backports_source
		apt_update
		found=$(newest_kernel_package "$series")
	fi
	if [ -n "$found" ]; then
		read -r pkg version <<<"$found"
		dir=$WORK/kernels/${pkg}_$version
	else
		# No apt lists (offline?): the newest kernel of the series already here.
		dir=$(printf '%s\n' "$WORK"/kernels/linux-image-"$series"[.-]* | grep -v '\.tmp$' | sort -V | tail -n 1 || true)
		[ -n "$dir" ] || die "apt knows no linux-image-$series*-cloud-amd64-unsigned package and none is cached in $WORK/kernels"
		log "apt knows no $series cloud kernel: using the cached $(basename "$dir")"
		pkg=$(basename "$dir")
		version=${pkg#*_} pkg=${pkg%%_*}
	fi
	vmlinuz=("$dir"/boot/vmlinuz-*)
	if [ ${#vmlinuz[@]} -eq 0 ]; then
		deb=$WORK/debs/${pkg}_${version//:/%3a}_amd64.deb
		if [ ! -s "$deb" ] && ! download "$pkg" "$version" "$deb"; then
			# Stale lists name a version the mirror no longer has.
			[ -z "$APT_UPDATED" ] || die "apt-get download $pkg=$version failed"
			log "apt-get download failed: refreshing apt's lists and trying again"
			apt_update
			fetch_kernel "$series"
			return
		fi
		log "unpacking $(basename "$deb")"
		rm -rf "$dir.tmp"
		mkdir -p "$WORK/kernels"
		dpkg-deb -x "$deb" "$dir.tmp"
		mv "$dir.tmp" "$dir"
		vmlinuz=("$dir"/boot/vmlinuz-*)
		[ ${#vmlinuz[@]} -eq 1 ] || die "$deb has no single boot/vmlinuz-*"
	else
		log "$series: $pkg $version (cached)"
	fi
	IMAGE[$series]=${vmlinuz[0]}
	KPKG[$series]="$pkg $version"
}

# --- build -----------------------------------------------------------------

MANIFEST_LINES=()

# Builds the test executables, rawbpf and the init; fills MANIFEST_LINES.
build() {
	local json=$WORK/cargo-test.json
	log "building the workspace's tests for $TARGET (cargo test --workspace --no-run, opt-level $OPT_LEVEL)"
	(cd "$ROOT" && CARGO_PROFILE_DEV_OPT_LEVEL=$OPT_LEVEL cargo test --workspace --no-run --target "$TARGET" \
		--message-format=json-render-diagnostics >"$json") ||
		die "cargo test --no-run failed for $TARGET (its messages are above)"

	# kind, label, cwd (the package directory, as cargo test uses), path
	jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null)
		| ["test", (.target.kind[0] + " " + .target.name),
		   (.manifest_path | sub("/Cargo.toml$"; "")), .executable] | @tsv' "$json" |
		sort -u -t $'\t' -k4,4 | mapfile -t MANIFEST_LINES
	[ ${#MANIFEST_LINES[@]} -gt 0 ] || die "cargo built no test executables (see $json)"

	local rawbpf
	rawbpf=$(jq -r 'select(.reason == "compiler-artifact" and (.profile.test | not)
		and .executable != null and .target.name == "rawbpf" and (.target.kind | index("bin")))
		| [(.manifest_path | sub("/Cargo.toml$"; "")), .executable] | @tsv' "$json" | tail -n 1)
	if [ -z "$rawbpf" ]; then
		log "building the rawbpf binary for $TARGET"
		rawbpf=$(cd "$ROOT" && CARGO_PROFILE_DEV_OPT_LEVEL=$OPT_LEVEL cargo build -p rawbpf --bin rawbpf --target "$TARGET" \
			--message-format=json-render-diagnostics |
			jq -r 'select(.reason == "compiler-artifact" and .executable != null)
				| [(.manifest_path | sub("/Cargo.toml$"; "")), .executable] | @tsv' | tail -n 1)
	fi
	[ -n "$rawbpf" ] || die "no rawbpf binary was built for $TARGET"
	MANIFEST_LINES+=("rawbpf"$'\t'"bin rawbpf"$'\t'"$rawbpf")

	log "building the guest's init (vmtest/init)"
	cargo build --release --locked --target "$TARGET" --manifest-path "$INIT_DIR/Cargo.toml" \
		--target-dir "$INIT_TARGET_DIR" >&2 || die "vmtest/init does not build"
}

# Fails unless a binary is statically linked (no ELF interpreter).
check_static() {
	if command -v readelf >/dev/null && readelf -lW "$1" | grep -q 'program interpreter'; then
		die "$1 is dynamically linked; the initramfs has no libc"
	fi
}

# Packs /init, the manifest and the binaries (at their host paths) into a
# newc initramfs.
pack() {
	local stage=$WORK/initramfs line label cwd path
	rm -rf "$stage"
	mkdir -p "$stage"/{dev,proc,sys,tmp,root,vmtest}
	chmod 1777 "$stage/tmp"
	install -m 0755 "$INIT_TARGET_DIR/$TARGET/release/rawbpf-vmtest-init" "$stage/init"
	check_static "$stage/init"
	printf '%s\n' "${MANIFEST_LINES[@]}" >"$stage/vmtest/manifest"
	for line in "${MANIFEST_LINES[@]}"; do
		IFS=$'\t' read -r _ label cwd path <<<"$line"
		[ -x "$path" ] || die "$path ($label) is not an executable"
		check_static "$path"
		mkdir -p "$stage$cwd" "$stage$(dirname "$path")"
		# Keep the symbols (backtraces name functions), drop DWARF (size).
		objcopy --strip-debug "$path" "$stage$path"
	done
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet) >"$WORK/initramfs.cpio.tmp"
	mv "$WORK/initramfs.cpio.tmp" "$WORK/initramfs.cpio"
	log "initramfs: $(grep -c '^test' "$stage/vmtest/manifest") test executables and rawbpf," \
		"$(du -m "$WORK/initramfs.cpio" | cut -f1) MiB"
}

# --- qemu ------------------------------------------------------------------

ACCEL=()

# KVM only if /dev/kvm opens and a guest really runs under it: on some
# machines it opens and guests hang. The answer is kept for this boot.
choose_accel() {
	local want=${VMTEST_ACCEL:-auto} probe=$WORK/kvm-probe boot_id answer=no
	case $want in
	tcg) ACCEL=(-accel tcg -cpu max) && return ;;
	kvm) ACCEL=(-accel kvm -cpu host) && return ;;
	auto) ;;
	*) die "VMTEST_ACCEL must be auto, kvm or tcg (got '$want')" ;;
	esac
	boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
	if [ -f "$probe" ] && [ "$(head -n 1 "$probe")" = "$boot_id" ]; then
		answer=$(sed -n 2p "$probe")
	elif (exec 3<>/dev/kvm) 2>/dev/null; then
		log "/dev/kvm opens: checking that a guest boots under KVM (10 s at most)"
		timeout 10 qemu-system-x86_64 -accel kvm -cpu host -m 256M -nodefaults -no-user-config \
			-display none -no-reboot -serial stdio -kernel "${IMAGE[${SERIES[0]}]}" \
			-append "console=ttyS0 panic=-1" </dev/null >"$probe.log" 2>&1 || true
		grep -q 'Linux version' "$probe.log" && answer=yes
		printf '%s\n%s\n' "$boot_id" "$answer" >"$probe"
	fi
	if [ "$answer" = yes ]; then
		ACCEL=(-accel kvm -cpu host)
	else
		ACCEL=(-accel tcg -cpu max)
	fi
}

us() { local t=${1/./}; echo $((10#$t)); } # EPOCHREALTIME to microseconds
seconds() { printf '%d.%d' $(($1 / 1000000)) $(($1 % 1000000 / 100000)); }

declare -A VERDICT RELEASE UNAME COUNTS TOOK
PASSED=0 FAILED=0 SKIPPED=0

# Boots one kernel with the initramfs and judges its console output.
run_kernel() {
	local series=$1 log=$WORK/$1.log line rc
	local budget=$((TIMEOUT - 40)) program_timeout
	program_timeout=$((budget < 150 ? budget : 150))
	local append="console=ttyS0 panic=-1 quiet vmtest.budget=$budget vmtest.program_timeout=$program_timeout ${VMTEST_APPEND:-}"
	# shellcheck disable=SC2054 # commas inside qemu options
	local qemu=(qemu-system-x86_64 "${ACCEL[@]}" -smp 2 -m 1G
		-nodefaults -no-user-config -display none -no-reboot -serial stdio
		-device isa-debug-exit,iobase=0xf4,iosize=0x04
		-kernel "${IMAGE[$series]}" -initrd "$WORK/initramfs.cpio" -append "$append")

	log "booting ${KPKG[$series]} (${ACCEL[*]}, timeout ${TIMEOUT}s); console log: $log"
	local result='' release='?' uname='' total='' running='' t_result=
	local t0=$EPOCHREALTIME
	exec {logfd}>"$log"
	set +e
	timeout --foreground -k 10 "$TIMEOUT" "${qemu[@]}" </dev/null 2>&1 |
		while IFS= read -r line || [ -n "$line" ]; do
			line=${line%$'\r'}
			printf '%s\n' "$line"
			printf '%s\n' "$line" >&"$logfd"
			case $line in
			RAWBPF-VMTEST-RESULT:*) result=${line#RAWBPF-VMTEST-RESULT: } t_result=$EPOCHREALTIME ;;
			RAWBPF-VMTEST-KERNEL:*)
				uname=${line#RAWBPF-VMTEST-KERNEL: }
				release=${uname%% *}
				;;
			RAWBPF-VMTEST-TOTAL:*) total=${line#RAWBPF-VMTEST-TOTAL: } ;;
			RAWBPF-VMTEST-RUN:*) running=${line#RAWBPF-VMTEST-RUN: } ;;
			RAWBPF-VMTEST-DONE:*) running= ;;
			esac
		done
	rc=${PIPESTATUS[0]}
	set -e
	exec {logfd}>&-
	local t_end=$EPOCHREALTIME

	# Never a pass by default: only the PASS line, with nothing against it.
	local verdict
	if grep -q 'Kernel panic' "$log"; then
		verdict="FAIL: kernel panic ($(grep -m1 'Kernel panic' "$log" | sed 's/^.*Kernel panic - //'))"
	elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		verdict="FAIL: timed out after ${TIMEOUT}s${running:+ while running $running}"
	elif [ -z "$result" ]; then
		verdict="FAIL: no RAWBPF-VMTEST-RESULT line (qemu exit status $rc)"
	elif [ "$result" = PASS ]; then
		# isa-debug-exit with 0 makes qemu exit 1; 0 is the power-off fallback.
		if [ "$rc" = 1 ] || [ "$rc" = 0 ]; then
			verdict=PASS
		else
			verdict="FAIL: PASS line but qemu exit status $rc"
		fi
	else
		verdict="FAIL: ${result#FAIL }"
	fi

	local passed=0 failed=0 ignored=0
	if [ -n "$total" ]; then
		passed=$(sed -n 's/.* passed=\([0-9]*\).*/\1/p' <<<"$total")
		failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$total")
		ignored=$(sed -n 's/.* ignored=\([0-9]*\).*/\1/p' <<<"$total")
		COUNTS[$series]="$passed passed, $failed failed, $ignored ignored"
	else
		COUNTS[$series]="no totals"
	fi
	# A failed kernel counts at least one failed test.
	[ "$verdict" = PASS ] || [ "${failed:-0}" -gt 0 ] || failed=1
	PASSED=$((PASSED + ${passed:-0})) FAILED=$((FAILED + ${failed:-0})) SKIPPED=$((SKIPPED + ${ignored:-0}))

	VERDICT[$series]=$verdict
	RELEASE[$series]=$release
	UNAME[$series]=${uname:-"(the guest printed no kernel line)"}
	if [ -n "$t_result" ]; then
		TOOK[$series]=$(seconds $(($(us "$t_result") - $(us "$t0"))))s
	else
		TOOK[$series]="- (qemu ran $(seconds $(($(us "$t_end") - $(us "$t0"))))s)"
	fi
	log "$series: $verdict (qemu exit status $rc)"
	[ "$verdict" = PASS ]
}

# --- main ------------------------------------------------------------------

main() {
	mkdir -p "$WORK"
	exec 9>"$WORK/.lock"
	flock -n 9 || die "another vmtest run is using $WORK"
	ensure_tools
	local series
	for series in "${SERIES[@]}"; do fetch_kernel "$series"; done
	build
	pack
	choose_accel

	local failed=0
	for series in "${SERIES[@]}"; do
		run_kernel "$series" || failed=1
	done

	echo
	echo "vmtest summary (${ACCEL[*]}, qemu -smp 2 -m 1G; logs in target/vmtest/):"
	for series in "${SERIES[@]}"; do
		printf '  %s: Linux %s\n' "$series" "${UNAME[$series]}"
	done
	printf '  %-6s %-32s %-6s %-38s %s\n' kernel release result tests boot-to-result
	for series in "${SERIES[@]}"; do
		printf '  %-6s %-32s %-6s %-38s %s\n' "$series" "${RELEASE[$series]}" \
			"${VERDICT[$series]%%:*}" "${COUNTS[$series]}" "${TOOK[$series]}"
	done
	for series in "${SERIES[@]}"; do
		[ "${VERDICT[$series]}" = PASS ] || printf '  %s %s\n' "$series" "${VERDICT[$series]}"
	done
	echo "vmtest: $PASSED passed, $FAILED failed, $SKIPPED skipped"
	exit "$failed"
}

main
