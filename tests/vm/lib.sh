# Shared by tests/vm/run.sh (make vmtest) and tests/vm/initramfs.sh (make
# vmtest-initramfs, make vmtest-dracut): qemu and the other tools, Debian
# kernels, all fetched and unpacked, never installed; the accelerator, and
# the verdict read from the serial console.
#
# Packages come from a private apt configuration under target/vmtest/apt
# (its own sources list, lists and cache), so the suites they need
# (bullseye for 5.10, bookworm-backports for 6.12) never enter the host's
# apt sources. Its mirror is the one the machine already uses: read from
# /etc/apt/sources.list{,.d}, never written into the project.
#
# The caller sets ROOT and WORK before sourcing this file.

TARGET=x86_64-unknown-linux-musl

log() { printf '==> %s\n' "$*" >&2; }

# One "URI SUITE..." line per apt source the host has, in both formats
# (one-line .list and deb822 .sources).
apt_source_lines() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		# deb [options] URI SUITE COMPONENT...
		sed -n 's/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\)[[:space:]]\+\([^[:space:]]\+\).*/\2 \3/p' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk '
			function flush() { if (uris != "" && suites != "" && deb) { n = split(uris, u, " "); print u[1], suites } uris = suites = ""; deb = 1 }
			BEGIN { deb = 1 }
			/^[[:space:]]*$/ { flush(); next }
			/^#/ { next }
			tolower($1) == "types:" { deb = ($0 ~ /[[:space:]]deb([[:space:]]|$)/) }
			tolower($1) == "uris:" { $1 = ""; uris = $0 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			END { flush() }' "$f"
	done
}

# The mirror the host uses for suite $1 (e.g. bookworm, bookworm-security).
debian_mirror() {
	local want=$1 uri suites s
	while read -r uri suites; do
		for s in $suites; do
			if [ "$s" = "$want" ]; then
				echo "${uri%/}"
				return
			fi
		done
	done < <(apt_source_lines)
	log "no apt source for the suite $want in /etc/apt/sources.list{,.d}"
	return 1
}

# The host's release (bookworm) and its mirror.
host_suite() { . /etc/os-release && echo "$VERSION_CODENAME"; }

# Nothing is installed on the host. A tool it lacks (qemu-system-x86, cpio,
# mke2fs) and what a VM image is built with (initramfs-tools, busybox,
# dracut) come as Debian packages fetched with `apt-get download` through
# the private configuration below, together with whatever of their
# dependencies the host does not have in the same version, and are unpacked
# with `dpkg-deb -x` under $WORK/tools/NAME (never run: no maintainer
# script, no dpkg database). A command that needs them runs as
# "${TOOLS[@]}" CMD...: in a private mount namespace whose /usr is an
# overlay of those trees on the host's /usr (/bin, /sbin and /lib are links
# into /usr on Debian 12), and /etc likewise for their configuration files,
# so their absolute paths, libraries and data files are where the programs
# expect them; outside that namespace nothing changes.

# The overlay layers (each a directory holding usr/), top first.
TOOL_LAYERS=()
TOOLS=()

# Sets TOOLS from TOOL_LAYERS: empty (run on the host as is) without layers.
tools_command() {
	TOOLS=()
	[ ${#TOOL_LAYERS[@]} -gt 0 ] || return 0
	local usr="" etc="" layer
	for layer in "${TOOL_LAYERS[@]}"; do
		usr+="$layer/usr:"
		[ ! -d "$layer/etc" ] || etc+="$layer/etc:"
	done
	TOOLS=(unshare --mount --propagation private -- sh -euc '
		mount -t overlay rawbpf-tools -o "lowerdir=$1/usr" /usr
		[ -z "$2" ] || mount -t overlay rawbpf-tools -o "lowerdir=$2/etc" /etc
		shift 2
		exec "$@"' sh "$usr" "$etc")
}

# "name=version" of every package apt would install or upgrade on this host
# for `apt-get install ARGS` (a simulation, through the private
# configuration: the host's package state is only read).
resolve_packages() {
	local out
	out=$(apt-get "${KAPT_OPTS[@]}" -s install --no-install-recommends "$@" 2>&1) || {
		printf '%s\n' "$out" >&2
		log "apt cannot resolve: $*"
		return 1
	}
	sed -n 's/^Inst \([^ ]*\) \(\[[^]]*\] \)\?(\([^ ]*\) .*/\1=\3/p' <<<"$out"
}

# unpack_tools NAME [APT-ARGS...] PACKAGE...: the packages (and the
# dependencies the host lacks) unpacked under $WORK/tools/NAME/root with a
# merged /usr, added on top of TOOL_LAYERS. Fetched again only when the list
# of package versions changes.
unpack_tools() {
	local name=$1 dir="$WORK/tools/$1" attempt list=
	shift
	kapt_setup
	for attempt in cached fresh; do
		if [ "$attempt" = fresh ]; then
			# The lists may be older than the mirror: update them once.
			rm -f "$KAPT_DIR/updated"
			KAPT_DIR=
			kapt_setup
		fi
		list=$(resolve_packages "$@") || exit 1
		if [ -d "$dir/root" ] && [ "$list" = "$(cat "$dir/packages" 2>/dev/null)" ]; then
			break
		fi
		rm -rf "$dir"
		mkdir -p "$dir/debs" "$dir/root"
		[ -z "$list" ] || log "fetching for $name (unpacked under $dir, not installed): $(tr '\n' ' ' <<<"$list")"
		# shellcheck disable=SC2086
		if [ -z "$list" ] || (cd "$dir/debs" && apt-get "${KAPT_OPTS[@]}" download $list >&2); then
			local deb
			for deb in "$dir"/debs/*.deb; do
				[ -e "$deb" ] || continue
				dpkg-deb -x "$deb" "$dir/root"
			done
			merge_usr "$dir/root"
			mkdir -p "$dir/root/usr"
			printf '%s\n' "$list" >"$dir/packages"
			break
		fi
		rm -rf "$dir"
		[ "$attempt" = fresh ] && { log "cannot fetch the packages for $name"; exit 1; }
	done
	TOOL_LAYERS=("$dir/root" "${TOOL_LAYERS[@]}")
	tools_command
}

# Moves an unpacked tree's /bin, /sbin, /lib* into its usr/, as on the host.
merge_usr() {
	local root=$1 d
	for d in bin sbin lib lib32 lib64 libx32; do
		[ -d "$root/$d" ] && [ ! -L "$root/$d" ] || continue
		mkdir -p "$root/usr/$d"
		cp -a "$root/$d/." "$root/usr/$d/"
		rm -rf "${root:?}/$d"
	done
}

# What every VM test needs on the host: qemu-system-x86 (from
# bookworm-backports when the host's qemu-utils is, as on this project's
# machines, so the two agree), cpio, mke2fs. Each one missing is unpacked,
# not installed; QEMU is the command that runs qemu.
QEMU=()
ensure_tools() {
	local need=()
	command -v cpio >/dev/null || need+=(cpio)
	command -v mke2fs >/dev/null || need+=(e2fsprogs)
	[ ${#need[@]} -eq 0 ] || unpack_tools host-tools "${need[@]}"
	if ! command -v qemu-system-x86_64 >/dev/null; then
		local suite=()
		if dpkg-query -W -f '${Version}' qemu-utils 2>/dev/null | grep -q bpo; then
			suite=(-t "$(host_suite)-backports")
		fi
		unpack_tools qemu "${suite[@]}" qemu-system-x86
	fi
	QEMU=("${TOOLS[@]}" qemu-system-x86_64)
	rustup target add "$TARGET" >/dev/null 2>&1 || true
}

# The Debian suite whose cloud kernel is $1.
kernel_suite() {
	case "$1" in
	5.10) echo bullseye ;;
	6.1) echo bookworm ;;
	6.12) echo bookworm-backports ;;
	*) log "no Debian suite known for kernel $1"; exit 2 ;;
	esac
}

# apt-get/apt-cache with the private configuration for kernels.
KAPT_DIR=
kapt_setup() {
	[ -n "$KAPT_DIR" ] && return
	KAPT_DIR="$WORK/apt"
	mkdir -p "$KAPT_DIR"/{lists/partial,cache/archives/partial,parts}
	local mirror
	mirror=$(debian_mirror "$(host_suite)") || exit 1
	cat >"$KAPT_DIR/sources.list.new" <<-EOF
		deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bullseye main
		deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm main
		deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm-backports main
	EOF
	# Kernel security updates, when the host has a security mirror.
	local security
	if security=$(debian_mirror "$(host_suite)-security" 2>/dev/null); then
		cat >>"$KAPT_DIR/sources.list.new" <<-EOF
			deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $security bullseye-security main
			deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $security bookworm-security main
		EOF
	fi
	if ! cmp -s "$KAPT_DIR/sources.list.new" "$KAPT_DIR/sources.list"; then
		mv "$KAPT_DIR/sources.list.new" "$KAPT_DIR/sources.list"
		rm -f "$KAPT_DIR/updated"
	fi
	KAPT_OPTS=(-o "Dir::Etc::SourceList=$KAPT_DIR/sources.list"
		-o "Dir::Etc::SourceParts=$KAPT_DIR/parts"
		-o "Dir::State::Lists=$KAPT_DIR/lists"
		-o "Dir::Cache=$KAPT_DIR/cache"
		-o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
		-o APT::Sandbox::User=root -q)
	if [ ! -e "$KAPT_DIR/updated" ]; then
		log "apt lists for the kernel suites (private to $KAPT_DIR)"
		apt-get "${KAPT_OPTS[@]}" update >&2
		touch "$KAPT_DIR/updated"
	fi
}

# The linux-image-<version>-cloud-amd64-unsigned packages for a
# major.minor, newest first, from the suite that kernel comes from.
kernel_packages() {
	local want=$1
	kapt_setup
	apt-cache "${KAPT_OPTS[@]}" search --names-only "^linux-image-${want//./\\.}[.-].*-cloud-amd64-unsigned\$" |
		awk '{print $1}' | sort -rV
}

# Prints the path of the unpacked vmlinuz for a kernel, fetching it once.
# The package is unpacked whole under $WORK/kernel-$1: boot/ (vmlinuz,
# config) and lib/modules/ (or usr/lib/modules/). A mirror can list a
# package it no longer has (old suites' security updates): then the next
# newest is taken.
fetch_kernel() {
	local want=$1 dir="$WORK/kernel-$1"
	local image
	image=$(ls "$dir"/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)
	if [ -n "$image" ]; then
		echo "$image"
		return
	fi
	kapt_setup # here, not only in the subshell below: download needs KAPT_OPTS
	local pkg got= attempt
	mkdir -p "$WORK/debs" "$dir"
	for attempt in cached fresh; do
		if [ "$attempt" = fresh ]; then
			# The lists may be older than the mirror: update them once.
			rm -f "$KAPT_DIR/updated"
			KAPT_DIR=
			kapt_setup
		fi
		for pkg in $(kernel_packages "$want"); do
			log "fetching $pkg from $(kernel_suite "$want")"
			if (cd "$WORK/debs" && apt-get "${KAPT_OPTS[@]}" download "$pkg" >&2); then
				got=$pkg
				break 2
			fi
		done
	done
	[ -n "$got" ] || { log "no linux-image-$want cloud package could be fetched from $(kernel_suite "$want")"; exit 1; }
	dpkg-deb -x "$WORK"/debs/"$got"_*.deb "$dir"
	ls "$dir"/boot/vmlinuz-* | head -n 1
}

# KVM when it really works, else TCG. /dev/kvm can exist and still fail on
# a real guest (it does on this project's machines), so boot the kernel under
# KVM without an initramfs for a few seconds and look for its banner.
accel() {
	local image=$1
	if [ -w /dev/kvm ] && timeout 20 "${QEMU[@]}" -accel kvm -cpu host -m 256M \
		-nodefaults -no-user-config -display none -no-reboot -serial stdio \
		-kernel "$image" -append "console=ttyS0 panic=-1" </dev/null 2>/dev/null |
		grep -q -m1 'Linux version'; then
		echo "-accel kvm -cpu host"
	else
		echo "-accel tcg -cpu max"
	fi
}

# Boots qemu with the serial console on stdout (copied to $1) and qemu's
# isa-debug-exit device; the remaining arguments go to qemu. Prints the
# verdict: PASS only with the guest's PASS sentinel and exit code 1 (the
# guest wrote 0 to the port); returns non-zero otherwise.
boot_and_judge() {
	local log=$1 rc=0
	shift
	# shellcheck disable=SC2086
	timeout --foreground "$TIMEOUT" "${QEMU[@]}" $ACCEL \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		"$@" </dev/null | tee "$log" >&2 || rc=$?
	local verdict
	if [ "$rc" = 124 ]; then
		verdict="FAIL (timed out after ${TIMEOUT}s)"
	elif grep -q '^RAWBPF-VMTEST-RESULT: PASS' "$log" && [ "$rc" = 1 ]; then
		verdict=PASS
	elif grep -qE 'Kernel panic|end Kernel panic' "$log"; then
		verdict="FAIL (kernel panic)"
	elif grep -q '^RAWBPF-VMTEST-RESULT: FAIL' "$log"; then
		verdict="FAIL ($(grep '^RAWBPF-VMTEST-RESULT' "$log" | cut -d' ' -f3- | tr -d '\r'))"
	else
		verdict="FAIL (no result line; qemu exit $rc)"
	fi
	echo "$verdict"
	[ "$verdict" = PASS ]
}
