#!/usr/bin/env bash
# make vmtest-initramfs: the early-boot path users run, end to end.
#
# 1. Debian's own mkinitramfs (initramfs-tools, busybox, the distribution's
#    /init) builds an image for the Debian 6.12 cloud kernel with
#    contrib/initramfs-tools' hook and boot script installed and configured
#    to attach the seed (bpf/timer_cancel.bpf.o, which the hook copies into
#    the image beside a static rawbpf) to the root cgroup, pinned at
#    /sys/fs/bpf/rawbpf. No kernel is installed on the host: the
#    kernel package is only unpacked under target/vmtest, and mkinitramfs
#    runs in a private mount namespace where that package's /lib/modules
#    and /boot are bind-mounted over the host's.
# 2. mke2fs -d makes a small ext4 root whose /sbin/init is the checker
#    (tests/vm/init/src/bin/initramfs_check.rs) next to /sbin/rawbpf.
# 3. qemu boots both; after the initramfs has moved the mounts and switched
#    root, the checker looks through `rawbpf show` and real traffic and
#    reports on the serial console (sentinel + isa-debug-exit).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK="$ROOT/target/vmtest"
TIMEOUT=${VMTEST_TIMEOUT:-300}
KERNEL=6.12
# shellcheck source=tests/vm/lib.sh
. "$ROOT/tests/vm/lib.sh"

STAGE="$WORK/initramfs-tools"
RAWBPF_STATIC="$ROOT/target/static/$TARGET/release/rawbpf"
CHECKER="$ROOT/target/vm-init/$TARGET/release/initramfs_check"

build() {
	log "building the static rawbpf and the checker"
	make -C "$ROOT" static >&2
	(cd "$ROOT/tests/vm/init" && cargo build --release --target "$TARGET" --target-dir "$ROOT/target/vm-init" >&2)
}

# mkinitramfs's configuration directory (-d): a minimal initramfs.conf, the
# one module the root disk needs, and our hook and boot script installed as
# a user would (README, "In an initramfs").
confdir() {
	local conf="$STAGE/conf"
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
	cat >"$conf/rawbpf.conf" <<-EOF
		RAWBPF_BINARY=$RAWBPF_STATIC
		RAWBPF_OBJECT=$ROOT/bpf/timer_cancel.bpf.o
		RAWBPF_CGROUP=/
		RAWBPF_PIN=/sys/fs/bpf/rawbpf
		RAWBPF_ON_FAILURE=panic
	EOF
	echo "$conf"
}

# mkinitramfs for the unpacked kernel, in a private mount namespace: the
# package's lib/ is laid over the host's /usr/lib (/lib is a link to it) in
# a read-only overlay, so /lib/modules/VERSION is the package's and every
# program the hooks copy is still the host's. Nothing outside the namespace
# changes; modules.dep is made beforehand in the unpacked package.
make_initramfs() {
	local kdir="$WORK/kernel-$KERNEL" conf=$1 out=$2 moddir version
	moddir=$(ls -d "$kdir"/lib/modules/* "$kdir"/usr/lib/modules/* 2>/dev/null | head -n 1 || true)
	version=$(basename "$moddir")
	[ -n "$version" ] && [ -e "$kdir/boot/config-$version" ] || { log "no modules or config in $kdir"; exit 1; }
	[ -e "$moddir/modules.dep" ] || depmod -b "$kdir" "$version"
	log "mkinitramfs for $version (private mount namespace)"
	unshare --mount --propagation private -- sh -euc '
		mount -t overlay rawbpf-modules -o "lowerdir=$1:/usr/lib" /usr/lib
		mount --bind "$2" /boot
		mkinitramfs -d "$3" -o "$4" "$5"
	' sh "$(dirname "$(dirname "$moddir")")" "$kdir/boot" "$conf" "$out" "$version" >&2
}

make_root() {
	local root="$STAGE/root" img=$1
	rm -rf "$root"
	mkdir -p "$root"/{sbin,dev,proc,sys,run,tmp}
	install -m 755 "$CHECKER" "$root/sbin/init"
	install -m 755 "$RAWBPF_STATIC" "$root/sbin/rawbpf"
	rm -f "$img"
	mke2fs -q -t ext4 -L rawbpf-root -d "$root" "$img" 32M >&2
}

main() {
	mkdir -p "$WORK" "$STAGE"
	ensure_tools mkinitramfs busybox mke2fs
	local image
	image=$(fetch_kernel "$KERNEL")
	build
	local conf
	conf=$(confdir)
	make_initramfs "$conf" "$STAGE/initrd.img"
	# The hook and the boot script are in the image.
	local listing f
	listing=$(lsinitramfs "$STAGE/initrd.img")
	for f in usr/sbin/rawbpf etc/rawbpf/initramfs.conf etc/rawbpf/object.bpf.o scripts/init-top/rawbpf; do
		grep -qx "$f\|${f#usr/}" <<<"$listing" || { log "mkinitramfs left $f out of the image"; exit 1; }
	done
	make_root "$STAGE/root.img"
	log "initrd $(du -k "$STAGE/initrd.img" | cut -f1) KB, root $(du -k "$STAGE/root.img" | cut -f1) KB"
	ACCEL=$(accel "$image")
	log "booting $(basename "$image") with the Debian initramfs ($ACCEL)"
	local start=$SECONDS verdict rc=0
	verdict=$(boot_and_judge "$WORK/initramfs-$KERNEL.log" -m 512M -smp 1 \
		-kernel "$image" -initrd "$STAGE/initrd.img" \
		-drive "file=$STAGE/root.img,format=raw,if=virtio" \
		-append "console=ttyS0 root=/dev/vda rootfstype=ext4 rw panic=-1 quiet") || rc=1
	echo
	echo "vmtest-initramfs summary:"
	printf '  %-6s %-40s boot-to-result %ss\n' "$KERNEL" "$verdict" "$((SECONDS - start))"
	exit "$rc"
}

main
