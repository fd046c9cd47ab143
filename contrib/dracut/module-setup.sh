#!/bin/bash
# dracut module "rawbpf": installed as /usr/lib/dracut/modules.d/90rawbpf/
# (this file and rawbpf-load.sh). It copies rawbpf, the configured BPF
# object and the configuration into the image; rawbpf-load.sh, a pre-udev
# hook, loads and attaches the object at boot, before udev starts and long
# before the root file system is mounted.
#
# The configuration is the one the initramfs-tools hook reads, in the same
# shell syntax: /etc/rawbpf/initramfs.conf, or the file named by
# RAWBPF_CONF in dracut's environment. Without it the image carries only
# the hook, which says at boot that nothing is loaded.

# The module is included whenever it is installed (dracut's default set).
check() {
    return 0
}

depends() {
    return 0
}

# $1 single-quoted for the shell that reads it at boot.
rawbpf_quote() {
    local q="'"
    printf "'%s'" "${1//$q/$q\\$q$q}"
}

install() {
    local conf=${RAWBPF_CONF:-/etc/rawbpf/initramfs.conf}
    inst_hook pre-udev 10 "$moddir/rawbpf-load.sh"
    inst_multiple mkdir mount cat
    if [[ ! -r $conf ]]; then
        dinfo "rawbpf: no $conf: the image loads nothing at boot"
        return 0
    fi

    local RAWBPF_BINARY=/usr/local/sbin/rawbpf
    local RAWBPF_OBJECT=
    local RAWBPF_CGROUP=/rawbpf
    local RAWBPF_PIN=/sys/fs/bpf/rawbpf
    local RAWBPF_ON_FAILURE=continue
    # shellcheck disable=SC1090
    . "$conf"

    local value nl=$'\n'
    for value in "$RAWBPF_BINARY" "$RAWBPF_OBJECT" "$RAWBPF_CGROUP" "$RAWBPF_PIN"; do
        [[ $value != *"$nl"* ]] || rawbpf_fail "$conf" "a setting holds a newline: $value"
    done
    [[ -x $RAWBPF_BINARY ]] || rawbpf_fail "$conf" "RAWBPF_BINARY $RAWBPF_BINARY is not an executable"
    [[ $RAWBPF_CGROUP == /* ]] || rawbpf_fail "$conf" "RAWBPF_CGROUP must start with /"
    [[ $RAWBPF_PIN == /?* ]] || rawbpf_fail "$conf" "RAWBPF_PIN must be an absolute path in bpffs"
    [[ $RAWBPF_ON_FAILURE == continue || $RAWBPF_ON_FAILURE == panic ]] ||
        rawbpf_fail "$conf" "RAWBPF_ON_FAILURE is continue or panic"

    # inst_binary also copies the libraries of a dynamically linked build.
    inst_binary "$RAWBPF_BINARY" /sbin/rawbpf || rawbpf_fail "$conf" "cannot copy $RAWBPF_BINARY"
    local object=
    if [[ -n $RAWBPF_OBJECT ]]; then
        [[ -f $RAWBPF_OBJECT && -r $RAWBPF_OBJECT ]] ||
            rawbpf_fail "$conf" "RAWBPF_OBJECT $RAWBPF_OBJECT cannot be read"
        object=/etc/rawbpf/object.bpf.o
        inst_simple "$RAWBPF_OBJECT" "$object" || rawbpf_fail "$conf" "cannot copy $RAWBPF_OBJECT"
    else
        dwarn "rawbpf ($conf): RAWBPF_OBJECT is empty: the image loads nothing at boot"
    fi

    # The boot hook's view: the object's path inside the image.
    mkdir -p "$initdir/etc/rawbpf"
    {
        echo "# made by dracut's rawbpf module when the image was built"
        echo "RAWBPF_OBJECT=$(rawbpf_quote "$object")"
        echo "RAWBPF_CGROUP=$(rawbpf_quote "$RAWBPF_CGROUP")"
        echo "RAWBPF_PIN=$(rawbpf_quote "$RAWBPF_PIN")"
        echo "RAWBPF_ON_FAILURE=$(rawbpf_quote "$RAWBPF_ON_FAILURE")"
    } > "$initdir/etc/rawbpf/initramfs.conf"
}

# A configuration that cannot work stops the build, as the initramfs-tools
# hook does: better no new image than one that fails at boot.
rawbpf_fail() {
    dfatal "rawbpf ($1): $2"
    exit 1
}
