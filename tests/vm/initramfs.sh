#!/usr/bin/env bash
# make vmtest-initramfs (tests/vm/initramfs.sh initramfs-tools) and make
# vmtest-dracut (tests/vm/initramfs.sh dracut): the early-boot paths users
# run, end to end, on the Debian 6.12 cloud kernel.
#
# 1. The distribution's own tool builds the image: Debian's mkinitramfs
#    (initramfs-tools, busybox, its /init) with contrib/initramfs-tools'
#    hook and boot script, or Debian's dracut with contrib/dracut as module
#    90rawbpf. Neither tool is installed on the host: their packages are
#    fetched with `apt-get download` and unpacked under target/vmtest/tools
#    (tests/vm/lib.sh), and the tool runs in a private mount namespace whose
#    /usr is an overlay of those packages and the unpacked kernel's modules
#    on the host's /usr, with the kernel's boot/ bound on /boot.
#    The configuration names paths with a space, quotes and a $ in them (the
#    rawbpf binary, the object, the pin directory, and for dracut the
#    cgroup), which the hooks must carry through.
# 2. mke2fs -d makes a small ext4 root whose /sbin/init is the checker
#    (tests/vm/init/src/bin/initramfs_check.rs) next to /sbin/rawbpf, and
#    /etc/rawbpf-check.conf saying where the seed should be.
# 3. qemu boots it twice: once as configured, where the checker finds the
#    seed attached from the initramfs and still there after switch_root
#    (through `rawbpf show`, i.e. the kernel's BPF_PROG_QUERY, and real
#    traffic); once with `rawbpf=off` on the kernel command line, where it
#    finds nothing attached or pinned.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK="$ROOT/target/vmtest"
TIMEOUT=${VMTEST_TIMEOUT:-300}
KERNEL=6.12
FLAVOUR=${1:-initramfs-tools}
case "$FLAVOUR" in
initramfs-tools | dracut) ;;
*) echo "usage: $0 [initramfs-tools|dracut]" >&2; exit 2 ;;
esac
# shellcheck source=tests/vm/lib.sh
. "$ROOT/tests/vm/lib.sh"

STAGE="$WORK/$FLAVOUR"
RAWBPF_STATIC="$ROOT/target/static/$TARGET/release/rawbpf"
CHECKER="$ROOT/target/vm-init/$TARGET/release/initramfs_check"

# Awkward on purpose: a space, both quotes and a $.
ODD="odd dir 'q' \"dq\" \$x"
PIN="/sys/fs/bpf/rawbpf pin 'q' \"dq\""
case "$FLAVOUR" in
# initramfs-tools: the root cgroup, named explicitly; a failure stops the boot.
initramfs-tools) CGROUP=/ ON_FAILURE=panic ;;
# dracut: a cgroup of its own with an awkward name; the default on failure.
dracut) CGROUP="/rawbpf boot 'q' \"dq\"" ON_FAILURE= ;;
esac

build() {
	log "building the static rawbpf and the checker"
	make -C "$ROOT" static >&2
	(cd "$ROOT/tests/vm/init" && cargo build --release --target "$TARGET" --target-dir "$ROOT/target/vm-init" >&2)
}

# $1 single-quoted for the shell.
quote() {
	local q="'"
	printf "'%s'" "${1//$q/$q\\$q$q}"
}

# /etc/rawbpf/initramfs.conf as a user would write it, for the static rawbpf
# and the seed's object, both copied under the awkward directory.
write_config() {
	local conf=$1 odd="$STAGE/$ODD"
	rm -rf "$odd"
	mkdir -p "$odd"
	install -m 755 "$RAWBPF_STATIC" "$odd/raw bpf"
	install -m 644 "$ROOT/bpf/timer_cancel.bpf.o" "$odd/seed's \"timer\".bpf.o"
	{
		echo "RAWBPF_BINARY=$(quote "$odd/raw bpf")"
		echo "RAWBPF_OBJECT=$(quote "$odd/seed's \"timer\".bpf.o")"
		echo "RAWBPF_CGROUP=$(quote "$CGROUP")"
		echo "RAWBPF_PIN=$(quote "$PIN")"
		[ -z "$ON_FAILURE" ] || echo "RAWBPF_ON_FAILURE=$ON_FAILURE"
	} >"$conf"
}

# The unpacked kernel as an overlay layer: usr/lib/modules/VERSION links to
# its modules (made ready with depmod). Sets KVERSION and KBOOT.
kernel_layer() {
	local kdir="$WORK/kernel-$KERNEL" moddir layer="$STAGE/kernel-layer"
	moddir=$(ls -d "$kdir"/lib/modules/* "$kdir"/usr/lib/modules/* 2>/dev/null | head -n 1 || true)
	KVERSION=$(basename "$moddir")
	KBOOT="$kdir/boot"
	[ -n "$KVERSION" ] && [ -e "$KBOOT/config-$KVERSION" ] || { log "no modules or config in $kdir"; exit 1; }
	[ -e "$moddir/modules.dep" ] || "${TOOLS[@]}" depmod -b "$(dirname "$(dirname "$(dirname "$moddir")")")" "$KVERSION"
	rm -rf "$layer"
	mkdir -p "$layer/usr/lib/modules"
	ln -s "$moddir" "$layer/usr/lib/modules/$KVERSION"
	TOOL_LAYERS=("$layer" "${TOOL_LAYERS[@]}")
	tools_command
}

# Runs "$@" where the image is built: the tools' namespace, /boot bound.
in_build_namespace() {
	"${TOOLS[@]}" sh -euc 'mount --bind "$1" /boot; shift; exec "$@"' sh "$KBOOT" "$@"
}

# Debian's mkinitramfs with a configuration directory (-d) holding a minimal
# initramfs.conf, the one module the root disk needs, and our hook and boot
# script installed as a user would (README, "In an initramfs").
image_initramfs_tools() {
	local out=$1 conf="$STAGE/conf"
	unpack_tools initramfs-tools initramfs-tools busybox
	kernel_layer
	rm -rf "$conf"
	mkdir -p "$conf"/{conf.d,hooks,scripts/init-top}
	cat >"$conf/initramfs.conf" <<-EOF
		MODULES=list
		BUSYBOX=y
		KEYMAP=n
		COMPRESS=gzip
		RUNSIZE=10%
		FSTYPE=ext4
	EOF
	echo virtio_blk >"$conf/modules"
	install -m 755 "$ROOT/contrib/initramfs-tools/hook" "$conf/hooks/rawbpf"
	install -m 755 "$ROOT/contrib/initramfs-tools/init-top" "$conf/scripts/init-top/rawbpf"
	# What /etc/rawbpf/initramfs.conf would say; the hook reads it from
	# $CONFDIR/rawbpf.conf first.
	write_config "$conf/rawbpf.conf"
	log "mkinitramfs for $KVERSION (private mount namespace)"
	in_build_namespace mkinitramfs -d "$conf" -o "$out" "$KVERSION" >&2
	LISTING=$(in_build_namespace lsinitramfs "$out")
}

# Debian's dracut with contrib/dracut installed as module 90rawbpf (in a
# layer of its own over /usr/lib/dracut/modules.d), no host configuration,
# not host-only, the shell init (no systemd in the image), the module the
# root disk needs forced in.
image_dracut() {
	local out=$1 layer="$STAGE/module-layer" conf="$STAGE/rawbpf.conf"
	unpack_tools dracut dracut
	kernel_layer
	rm -rf "$layer"
	mkdir -p "$layer/usr/lib/dracut/modules.d/90rawbpf" "$STAGE/dracut.conf.d"
	install -m 755 "$ROOT/contrib/dracut/module-setup.sh" "$ROOT/contrib/dracut/rawbpf-load.sh" \
		"$layer/usr/lib/dracut/modules.d/90rawbpf/"
	TOOL_LAYERS=("$layer" "${TOOL_LAYERS[@]}")
	tools_command
	write_config "$conf"
	log "dracut for $KVERSION (private mount namespace)"
	in_build_namespace env RAWBPF_CONF="$conf" dracut --force --no-hostonly --no-early-microcode \
		--gzip --conf /dev/null --confdir "$STAGE/dracut.conf.d" \
		--modules "base rootfs-block rawbpf" --force-drivers virtio_blk \
		--kver "$KVERSION" "$out" >&2
	LISTING=$(in_build_namespace lsinitrd "$out" | awk '{print $NF}')
}

# A fresh root for each boot: the checker as /sbin/init, a static rawbpf,
# and what the checker expects.
make_root() {
	local root="$STAGE/root" img=$1 cgroup
	rm -rf "$root"
	mkdir -p "$root"/{sbin,dev,proc,sys,run,tmp,etc}
	install -m 755 "$CHECKER" "$root/sbin/init"
	install -m 755 "$RAWBPF_STATIC" "$root/sbin/rawbpf"
	cgroup="/sys/fs/cgroup${CGROUP%/}"
	printf 'cgroup=%s\npin=%s\n' "$cgroup" "$PIN" >"$root/etc/rawbpf-check.conf"
	rm -f "$img"
	"${TOOLS[@]}" mke2fs -q -t ext4 -L rawbpf-root -d "$root" "$img" 32M >&2
}

main() {
	mkdir -p "$WORK" "$STAGE"
	ensure_tools
	local image
	image=$(fetch_kernel "$KERNEL")
	build
	LISTING=
	"image_${FLAVOUR//-/_}" "$STAGE/initrd.img"
	# The hook and the boot script are in the image.
	local f hook
	case "$FLAVOUR" in
	initramfs-tools) hook=scripts/init-top/rawbpf ;;
	dracut) hook=lib/dracut/hooks/pre-udev/10-rawbpf-load.sh ;;
	esac
	LISTING=$(sed 's|^\./||; s|^usr/||' <<<"$LISTING")
	for f in sbin/rawbpf etc/rawbpf/initramfs.conf etc/rawbpf/object.bpf.o "$hook"; do
		grep -qxF "$f" <<<"$LISTING" || { log "$FLAVOUR left $f out of the image"; exit 1; }
	done
	log "initrd $(du -k "$STAGE/initrd.img" | cut -f1) KB"
	ACCEL=$(accel "$image")
	local summary=() rc=0 boot extra start verdict
	for boot in configured rawbpf=off; do
		extra=
		[ "$boot" = configured ] || extra=" $boot"
		make_root "$STAGE/root.img"
		log "booting $(basename "$image") with the $FLAVOUR initramfs, $boot ($ACCEL)"
		start=$SECONDS
		verdict=$(boot_and_judge "$WORK/$FLAVOUR-$KERNEL-${boot//=/-}.log" -m 512M -smp 1 \
			-kernel "$image" -initrd "$STAGE/initrd.img" \
			-drive "file=$STAGE/root.img,format=raw,if=virtio" \
			-append "console=ttyS0 root=/dev/vda rootfstype=ext4 rw panic=-1 quiet$extra") || rc=1
		summary+=("$(printf '  %-6s %-12s %-40s boot-to-result %ss' "$KERNEL" "$boot" "$verdict" "$((SECONDS - start))")")
	done
	echo
	echo "vmtest-${FLAVOUR/initramfs-tools/initramfs} summary:"
	printf '%s\n' "${summary[@]}"
	exit "$rc"
}

main
