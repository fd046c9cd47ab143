#!/usr/bin/env bash
# contrib/ without a VM (make test; make vmtest-initramfs and make
# vmtest-dracut boot the real thing):
#
# - contrib/systemd/rawbpf@.service passes `systemd-analyze verify` with no
#   warning, and `systemd-analyze security` rates it below a threshold;
# - the initramfs-tools hook and the dracut module-setup.sh, given a
#   configuration whose values hold spaces, quotes, $ and backquotes, write
#   an image configuration that the boot shell reads back unchanged; with no
#   object they say the image loads nothing; a bad value stops the build;
# - both boot scripts, run in a chroot of stubs (a fake /proc/cmdline, a
#   rawbpf that records its arguments, a mount that mounts nothing), pass
#   those values to rawbpf as single arguments, load nothing with
#   `rawbpf=off`, without a configuration or without an object, and on a
#   failure continue or panic as RAWBPF_ON_FAILURE and
#   rawbpf.on_failure= say.
#
# Everything happens in private mount namespaces under a temporary
# directory; nothing on the host changes. Needs root (unshare, mount).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "tests/contrib.sh needs root (private mount namespaces)" >&2; exit 1; }
T=$(mktemp -d /tmp/rawbpf-contrib.XXXXXX)
trap 'rm -rf "$T"' EXIT

passed=0
failed=0
ok() {
	echo "ok   $*"
	passed=$((passed + 1))
}
bad() {
	echo "FAIL $*"
	failed=$((failed + 1))
}
expect() { # expect DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

# Awkward values: a space, both quotes, a $, a backquote, a backslash.
ODD="dir 'q' \"dq\" \$x \`y\` \\z"
CGROUP="/rawbpf cg '$ODD'"
PIN="/sys/fs/bpf/pin $ODD"

# --- systemd ---------------------------------------------------------------
unit_tests() {
	local sd="$T/systemd"
	mkdir -p "$sd/etc/systemd/system" "$sd/usr/local/sbin" "$sd/bin"
	cp "$ROOT/contrib/systemd/rawbpf@.service" "$sd/etc/systemd/system/"
	# verify checks that each command exists and is executable.
	for f in usr/local/sbin/rawbpf bin/sh bin/mkdir; do
		printf '#!/bin/sh\n' >"$sd/$f"
		chmod 755 "$sd/$f"
	done
	local out
	if out=$(systemd-analyze verify --root="$sd" rawbpf@test.service 2>&1) && [ -z "$out" ]; then
		ok "systemd-analyze verify rawbpf@test.service: no error, no warning"
	else
		bad "systemd-analyze verify rawbpf@test.service: $out"
	fi
	if out=$(systemd-analyze security --offline=yes --root="$sd" --threshold=30 rawbpf@test.service 2>&1); then
		ok "systemd-analyze security: $(grep -o 'Overall exposure level.*' <<<"$out")"
	else
		bad "systemd-analyze security above 3.0: $(grep -o 'Overall exposure level.*' <<<"$out")"
	fi
	local unit="$ROOT/contrib/systemd/rawbpf@.service"
	expect "the unit is skipped with rawbpf=off" grep -qx 'ConditionKernelCommandLine=!rawbpf=off' "$unit"
	expect "the unit runs rawbpf run OBJECT --cgroup DIR --pin DIR" \
		grep -qx 'ExecStart=/usr/local/sbin/rawbpf run ${RAWBPF_OBJECT} --cgroup /sys/fs/cgroup${RAWBPF_CGROUP} --pin ${RAWBPF_PIN}' "$unit"
	expect "the unit stops with rawbpf detach --pin DIR" \
		grep -qx 'ExecStop=/usr/local/sbin/rawbpf detach --pin ${RAWBPF_PIN}' "$unit"
}

# --- shell syntax ----------------------------------------------------------
syntax_tests() {
	local f
	for f in contrib/initramfs-tools/hook contrib/initramfs-tools/init-top contrib/initramfs-tools/rawbpf.conf \
		contrib/dracut/rawbpf-load.sh; do
		expect "sh -n $f" sh -n "$ROOT/$f"
	done
	expect "bash -n contrib/dracut/module-setup.sh" bash -n "$ROOT/contrib/dracut/module-setup.sh"
}

# $1 single-quoted for the shell.
quote() {
	local q="'"
	printf "'%s'" "${1//$q/$q\\$q$q}"
}

# A configuration as a user writes it. $1 file, $2 object ("" for none),
# $3 RAWBPF_ON_FAILURE ("" to leave it out: the default), $4 RAWBPF_CGROUP
# ("" to leave it out).
write_conf() {
	{
		echo "RAWBPF_BINARY=$(quote "$T/bin $ODD/rawbpf")"
		echo "RAWBPF_OBJECT=$(quote "$2")"
		[ -z "$4" ] || echo "RAWBPF_CGROUP=$(quote "$4")"
		echo "RAWBPF_PIN=$(quote "$PIN")"
		[ -z "$3" ] || echo "RAWBPF_ON_FAILURE=$3"
	} >"$1"
}

# Reads an image's configuration as the boot shell does; prints the values.
read_image_conf() {
	sh -c '. "$1" && printf "%s\n" "$RAWBPF_OBJECT" "$RAWBPF_CGROUP" "$RAWBPF_PIN" "$RAWBPF_ON_FAILURE"' sh "$1"
}

# --- build time: the initramfs-tools hook -----------------------------------
# hook-functions is a stub (copy_exec and copy_file as cp) laid over /usr in
# a private mount namespace; CONFDIR points the hook at our configuration.
run_hook() { # run_hook CONFDIR DESTDIR
	"${STUB_USR[@]}" env CONFDIR="$1" DESTDIR="$2" verbose=n sh "$ROOT/contrib/initramfs-tools/hook" 2>&1
}

hook_tests() {
	local layer="$T/hook-layer/usr/share/initramfs-tools"
	mkdir -p "$layer"
	cat >"$layer/hook-functions" <<-'EOF'
		copy_file() { mkdir -p "$DESTDIR/$(dirname "$3")" && cp "$2" "$DESTDIR/$3"; }
		copy_exec() { copy_file binary "$1" "$2"; }
	EOF
	STUB_USR=(unshare --mount --propagation private -- sh -euc \
		'mount -t overlay rawbpf-stub -o "lowerdir=$1:/usr" /usr; shift; exec "$@"' sh "$T/hook-layer/usr")
	mkdir -p "$T/bin $ODD" "$T/obj $ODD"
	printf '#!/bin/sh\n' >"$T/bin $ODD/rawbpf"
	chmod 755 "$T/bin $ODD/rawbpf"
	echo "an object" >"$T/obj $ODD/o.bpf.o"

	local conf="$T/itconf" dest="$T/itdest" out
	mkdir -p "$conf"
	write_conf "$conf/rawbpf.conf" "$T/obj $ODD/o.bpf.o" panic "$CGROUP"
	rm -rf "$dest"
	if out=$(run_hook "$conf" "$dest"); then ok "hook: builds with awkward paths"; else bad "hook: $out"; fi
	expect "hook: copies the binary" cmp -s "$T/bin $ODD/rawbpf" "$dest/sbin/rawbpf"
	expect "hook: copies the object" cmp -s "$T/obj $ODD/o.bpf.o" "$dest/etc/rawbpf/object.bpf.o"
	expect "hook: the image's configuration reads back unchanged" \
		test "$(read_image_conf "$dest/etc/rawbpf/initramfs.conf")" = "$(printf '%s\n' /etc/rawbpf/object.bpf.o "$CGROUP" "$PIN" panic)"
	cp "$dest/etc/rawbpf/initramfs.conf" "$T/image-odd.conf"

	write_conf "$conf/rawbpf.conf" "" "" ""
	rm -rf "$dest"
	out=$(run_hook "$conf" "$dest") || bad "hook without an object: $out"
	expect "hook: without an object it says the image loads nothing" grep -q "RAWBPF_OBJECT is empty: the image loads nothing" <<<"$out"
	expect "hook: defaults: no object, cgroup /rawbpf, on failure continue" \
		test "$(read_image_conf "$dest/etc/rawbpf/initramfs.conf")" = "$(printf '%s\n' "" /rawbpf "$PIN" continue)"
	cp "$dest/etc/rawbpf/initramfs.conf" "$T/image-empty.conf"

	write_conf "$conf/rawbpf.conf" "$T/obj $ODD/o.bpf.o" sometimes ""
	rm -rf "$dest"
	expect "hook: RAWBPF_ON_FAILURE=sometimes stops the build" eval '! run_hook "$conf" "$dest" >/dev/null'
	write_conf "$conf/rawbpf.conf" "$T/obj $ODD/missing.o" "" ""
	expect "hook: a missing object stops the build" eval '! run_hook "$conf" "$dest" >/dev/null'
	write_conf "$conf/rawbpf.conf" "$T/obj $ODD/o.bpf.o" "" "relative"
	expect "hook: a relative cgroup stops the build" eval '! run_hook "$conf" "$dest" >/dev/null'

	# No configuration anywhere: nothing added (CONFDIR empty, and the
	# host's /etc/rawbpf/initramfs.conf hidden by an empty directory).
	rm -rf "$dest" "$T/noconf"
	mkdir -p "$T/noconf" "$dest"
	out=$(unshare --mount --propagation private -- sh -euc '
		mount -t tmpfs none /etc/rawbpf 2>/dev/null || true
		exec "$@"' sh "${STUB_USR[@]}" env CONFDIR="$T/noconf" DESTDIR="$dest" sh "$ROOT/contrib/initramfs-tools/hook" 2>&1) || bad "hook without a configuration: $out"
	expect "hook: without a configuration it adds nothing" test -z "$(ls -A "$dest")"
}

# --- build time: the dracut module ------------------------------------------
dracut_setup_tests() {
	local initdir="$T/dinit" out
	write_conf "$T/dconf" "$T/obj $ODD/o.bpf.o" "" "$CGROUP"
	rm -rf "$initdir"
	mkdir -p "$initdir"
	# dracut's functions as stubs; install() runs as dracut runs it.
	out=$(RAWBPF_CONF="$T/dconf" initdir="$initdir" moddir="$ROOT/contrib/dracut" bash -c '
		inst_hook() { mkdir -p "$initdir/lib/dracut/hooks/$1" && cp "$3" "$initdir/lib/dracut/hooks/$1/$2-${3##*/}"; }
		inst_multiple() { :; }
		inst_binary() { mkdir -p "$initdir/$(dirname "$2")" && cp "$1" "$initdir/$2"; }
		inst_simple() { mkdir -p "$initdir/$(dirname "$2")" && cp "$1" "$initdir/$2"; }
		dinfo() { echo "I: $*"; }
		dwarn() { echo "W: $*"; }
		dfatal() { echo "F: $*"; }
		. "$moddir/module-setup.sh"
		check && install' 2>&1) || bad "dracut module: $out"
	expect "dracut module: installs the pre-udev hook" test -f "$initdir/lib/dracut/hooks/pre-udev/10-rawbpf-load.sh"
	expect "dracut module: copies the binary" cmp -s "$T/bin $ODD/rawbpf" "$initdir/sbin/rawbpf"
	expect "dracut module: copies the object" cmp -s "$T/obj $ODD/o.bpf.o" "$initdir/etc/rawbpf/object.bpf.o"
	expect "dracut module: the image's configuration reads back unchanged (default on failure: continue)" \
		test "$(read_image_conf "$initdir/etc/rawbpf/initramfs.conf")" = "$(printf '%s\n' /etc/rawbpf/object.bpf.o "$CGROUP" "$PIN" continue)"

	write_conf "$T/dconf" "$T/obj $ODD/o.bpf.o" panic/continue ""
	expect "dracut module: a bad RAWBPF_ON_FAILURE stops the build" eval '! RAWBPF_CONF="$T/dconf" initdir="$initdir" moddir="$ROOT/contrib/dracut" bash -c "
		inst_hook() { :; }; inst_multiple() { :; }; inst_binary() { :; }; inst_simple() { :; }
		dinfo() { :; }; dwarn() { :; }; dfatal() { echo \"F: \$*\"; }
		. \"\$moddir/module-setup.sh\"; install; echo survived" | grep -q survived'
}

# --- boot time: both boot scripts in a chroot of stubs ----------------------
# The chroot has the host's /usr (read-only), a fake /proc/cmdline, /stub
# first in PATH with a `mount` that mounts nothing, /sbin/rawbpf that
# records its arguments (one per line) and exits with /stub/status, and for
# each framework what its script sources: /scripts/functions
# (initramfs-tools) or the dracut functions, as stubs. panic/die record the
# panic and end the script with 99.
make_chroot() {
	local r="$T/chroot"
	rm -rf "$r"
	mkdir -p "$r"/{usr,proc,run,tmp,etc/rawbpf,sbin,stub,scripts/init-top,sys/fs/cgroup,sys/fs/bpf,dev}
	ln -s usr/bin "$r/bin"
	ln -s usr/lib "$r/lib"
	[ ! -e /lib64 ] || ln -s usr/lib64 "$r/lib64"
	cat >"$r/stub/mount" <<-'EOF'
		#!/bin/sh
		echo "mount $*" >>/run/stub-mounts
	EOF
	cat >"$r/sbin/rawbpf" <<-'EOF'
		#!/bin/sh
		printf '%s\n' "$@" >/run/rawbpf-args
		echo "rawbpf stub: exit $(cat /stub/status)"
		exit "$(cat /stub/status)"
	EOF
	cat >"$r/scripts/functions" <<-'EOF'
		log_failure_msg() { echo "failure: $*"; }
		panic() { echo "PANIC: $*" >>/run/panicked; exit 99; }
	EOF
	cat >"$r/stub/dracut" <<-'EOF'
		getarg() {
			local key=${1%=} value= found= arg
			for arg in $(cat /proc/cmdline); do
				case "$arg" in "$key="*) value=${arg#*=}; found=1 ;; esac
			done
			[ -n "$found" ] && echo "$value"
		}
		info() { echo "dracut: $*"; }
		warn() { echo "dracut Warning: $*"; }
		vinfo() { while read -r l; do info "$l"; done; }
		vwarn() { while read -r l; do warn "$l"; done; }
		die() { echo "PANIC: $*" >>/run/panicked; exit 99; }
		. /rawbpf-load.sh
		echo "the hook returned to dracut's init"
	EOF
	chmod 755 "$r/stub/mount" "$r/sbin/rawbpf"
	cp "$ROOT/contrib/initramfs-tools/init-top" "$r/scripts/init-top/rawbpf"
	cp "$ROOT/contrib/dracut/rawbpf-load.sh" "$r/rawbpf-load.sh"
}

# boot FRAMEWORK CMDLINE IMAGE-CONF RAWBPF-STATUS: runs the boot script;
# sets STATUS, OUT (its output), LOG (/run/rawbpf/initramfs.log), ARGS
# (rawbpf's arguments, one a line), MOUNTS, PANICKED.
boot() {
	local r="$T/chroot" fw=$1
	rm -rf "$r/run"/* "$r/etc/rawbpf"/* "$r/sys/fs/cgroup"/*
	[ -z "$3" ] || cp "$3" "$r/etc/rawbpf/initramfs.conf"
	echo "$4" >"$r/stub/status"
	echo "$2" >"$T/cmdline"
	local script=/scripts/init-top/rawbpf
	[ "$fw" = initramfs-tools ] || script=/stub/dracut
	STATUS=0
	OUT=$(unshare --mount --propagation private -- sh -euc '
		mount --bind -o ro /usr "$1/usr"
		mount -t proc proc "$1/proc"
		mount --bind "$2" "$1/proc/cmdline"
		exec chroot "$1" /usr/bin/env -i PATH=/stub:/usr/sbin:/usr/bin sh "$3"' sh "$r" "$T/cmdline" "$script" 2>&1) || STATUS=$?
	LOG=$(cat "$r/run/rawbpf/initramfs.log" 2>/dev/null || true)
	ARGS=$(cat "$r/run/rawbpf-args" 2>/dev/null || true)
	MOUNTS=$(cat "$r/run/stub-mounts" 2>/dev/null || true)
	PANICKED=$(cat "$r/run/panicked" 2>/dev/null || true)
}

boot_tests() {
	local fw=$1 conf="$T/image-odd.conf" want
	# The odd image says panic; one that says continue, and one that does
	# not say (the default).
	sed 's/^RAWBPF_ON_FAILURE=.*/RAWBPF_ON_FAILURE='"'continue'"'/' "$conf" >"$T/image-continue.conf"
	grep -v '^RAWBPF_ON_FAILURE=' "$conf" >"$T/image-default.conf"

	boot "$fw" "quiet" "$conf" 0
	want=$(printf '%s\n' run /etc/rawbpf/object.bpf.o --cgroup "/sys/fs/cgroup$CGROUP" --pin "$PIN")
	expect "$fw: rawbpf gets every awkward value as one argument" test "$ARGS" = "$want"
	expect "$fw: the cgroup directory is made" test -d "$T/chroot/sys/fs/cgroup$CGROUP"
	expect "$fw: cgroup2 and bpffs are mounted when absent" \
		test "$(grep -c 'cgroup2\|-t bpf' <<<"$MOUNTS")" = 2
	expect "$fw: the log has rawbpf's output" grep -q "rawbpf stub: exit 0" <<<"$LOG"
	expect "$fw: success, no panic" test "$STATUS" = 0 -a -z "$PANICKED"

	boot "$fw" "ro rawbpf=off quiet" "$conf" 0
	expect "$fw: rawbpf=off: nothing run, nothing mounted" test -z "$ARGS$MOUNTS" -a "$STATUS" = 0
	expect "$fw: rawbpf=off: the log says so" grep -q "rawbpf=off on the kernel command line: nothing loaded" <<<"$LOG"

	boot "$fw" "quiet" "" 0
	expect "$fw: no configuration: nothing run" test -z "$ARGS$MOUNTS" -a "$STATUS" = 0
	expect "$fw: no configuration: the log says so" grep -q "initramfs.conf in the initramfs.*nothing loaded" <<<"$LOG"

	boot "$fw" "quiet" "$T/image-empty.conf" 0
	expect "$fw: no object: nothing run (never the seed)" test -z "$ARGS$MOUNTS" -a "$STATUS" = 0
	expect "$fw: no object: the log says so" grep -q "no RAWBPF_OBJECT in the configuration: nothing loaded" <<<"$LOG"

	boot "$fw" "quiet" "$T/image-default.conf" 1
	expect "$fw: failure, default (continue): boots on" test "$STATUS" = 0 -a -z "$PANICKED"
	expect "$fw: failure, default (continue): the log says so" grep -q "booting on without it" <<<"$LOG"
	[ "$fw" = initramfs-tools ] || expect "$fw: failure, continue: the hook returns to dracut's init" grep -q "returned to dracut's init" <<<"$OUT"

	boot "$fw" "quiet" "$conf" 1
	expect "$fw: failure, RAWBPF_ON_FAILURE=panic: panics" test "$STATUS" = 99 -a -n "$PANICKED"

	boot "$fw" "quiet rawbpf.on_failure=continue" "$conf" 1
	expect "$fw: failure, panic configured, rawbpf.on_failure=continue: boots on" test "$STATUS" = 0 -a -z "$PANICKED"

	boot "$fw" "rawbpf.on_failure=panic" "$T/image-continue.conf" 1
	expect "$fw: failure, continue configured, rawbpf.on_failure=panic: panics" test "$STATUS" = 99 -a -n "$PANICKED"

	boot "$fw" "rawbpf.on_failure=maybe" "$T/image-continue.conf" 1
	expect "$fw: rawbpf.on_failure=maybe is ignored and said" \
		eval 'test "$STATUS" = 0 && grep -q "neither panic nor continue: ignored" <<<"$LOG"'
}

unit_tests
syntax_tests
hook_tests
dracut_setup_tests
make_chroot
boot_tests initramfs-tools
boot_tests dracut

echo "contrib: $passed passed, $failed failed"
[ "$failed" = 0 ]
