#!/bin/sh
# dracut pre-udev hook of the rawbpf module: loads the configured BPF
# object, attaches it to the configured cgroup and pins it, before udev
# starts and before the root file system is mounted. switch_root moves /sys
# (with the cgroup2 and bpffs mounts made here) and /run into the real
# root, so the attachment, its pins and the log survive it.
#
# Nothing is loaded when the kernel command line says `rawbpf=off`, when the
# image has no configuration, or when it names no object; a line in the log
# says which. `rawbpf.on_failure=panic|continue` on the command line
# overrides RAWBPF_ON_FAILURE. The log is /run/rawbpf/initramfs.log; the
# console gets the same lines through dracut's info (not with `quiet`).
#
# dracut sources its hooks into its own shell: everything is in a function,
# which returns and never exits unless the boot must stop (die).

type getarg > /dev/null 2>&1 || . /lib/dracut-lib.sh

rawbpf_say() {
    echo "rawbpf: $*" >> /run/rawbpf/initramfs.log
    info "rawbpf: $*"
}

rawbpf_mounted() {
    # $1 mount point, $2 file-system type, as /proc/mounts lists them.
    local _dev _dir _type _rest
    while read -r _dev _dir _type _rest; do
        [ "$_dir" = "$1" ] && [ "$_type" = "$2" ] && return 0
    done < /proc/mounts
    return 1
}

rawbpf_failed() {
    echo "rawbpf: $*" >> /run/rawbpf/initramfs.log
    warn "rawbpf: $*"
    if [ "$RAWBPF_ON_FAILURE" = panic ]; then
        die "rawbpf: $* (RAWBPF_ON_FAILURE=panic)"
    fi
    rawbpf_say "booting on without it (RAWBPF_ON_FAILURE=continue)"
}

rawbpf_boot() {
    local RAWBPF_OBJECT= RAWBPF_CGROUP=/rawbpf RAWBPF_PIN=/sys/fs/bpf/rawbpf RAWBPF_ON_FAILURE=continue
    local _on_failure _cgroup _uptime _out=/run/rawbpf/run.out _status=0
    mkdir -p /run/rawbpf

    if [ "$(getarg rawbpf=)" = off ]; then
        rawbpf_say "rawbpf=off on the kernel command line: nothing loaded"
        return 0
    fi
    if [ ! -r /etc/rawbpf/initramfs.conf ]; then
        rawbpf_say "no /etc/rawbpf/initramfs.conf in the initramfs (dracut found no configuration): nothing loaded"
        return 0
    fi
    . /etc/rawbpf/initramfs.conf
    _on_failure=$(getarg rawbpf.on_failure=)
    case "$_on_failure" in
        "") ;;
        panic | continue)
            rawbpf_say "rawbpf.on_failure=$_on_failure on the kernel command line (the configuration says $RAWBPF_ON_FAILURE)"
            RAWBPF_ON_FAILURE=$_on_failure
            ;;
        *) rawbpf_say "rawbpf.on_failure=$_on_failure on the kernel command line is neither panic nor continue: ignored" ;;
    esac
    if [ -z "$RAWBPF_OBJECT" ]; then
        rawbpf_say "no RAWBPF_OBJECT in the configuration: nothing loaded"
        return 0
    fi

    if ! rawbpf_mounted /sys/fs/cgroup cgroup2; then
        mkdir -p /sys/fs/cgroup
        mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup || {
            rawbpf_failed "cannot mount cgroup2 on /sys/fs/cgroup"
            return 0
        }
    fi
    if ! rawbpf_mounted /sys/fs/bpf bpf; then
        mkdir -p /sys/fs/bpf
        mount -t bpf -o nosuid,nodev,noexec,mode=700 bpf /sys/fs/bpf || {
            rawbpf_failed "cannot mount bpffs on /sys/fs/bpf"
            return 0
        }
    fi

    _cgroup="/sys/fs/cgroup${RAWBPF_CGROUP%/}"
    mkdir -p "$_cgroup" || {
        rawbpf_failed "cannot create the cgroup $_cgroup"
        return 0
    }
    read -r _uptime _ < /proc/uptime || _uptime=?
    rawbpf_say "attaching $RAWBPF_OBJECT to $_cgroup, pinned at $RAWBPF_PIN (${_uptime}s after the kernel started)"
    /sbin/rawbpf run "$RAWBPF_OBJECT" --cgroup "$_cgroup" --pin "$RAWBPF_PIN" > "$_out" 2>&1 || _status=$?
    cat "$_out" >> /run/rawbpf/initramfs.log
    if [ "$_status" = 0 ]; then
        vinfo < "$_out"
    else
        vwarn < "$_out"
    fi
    rm -f "$_out"
    [ "$_status" = 0 ] || rawbpf_failed "rawbpf run failed with status $_status (see above)"
    return 0
}

rawbpf_boot
