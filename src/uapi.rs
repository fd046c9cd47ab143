//! The kernel's numbers with their names: one typed table per kind of number.
//!
//! `union bpf_attr` and the info structs carry plain integers: a program type,
//! an attach type, a map type, an errno. A person reading output, an error or a
//! test wants `CGROUP_SKB`, `CGROUP_INET_EGRESS` and `ENOTSUPP`, not 8, 1 and
//! 524. Each kind here is a newtype over the kernel's integer with one constant
//! per value of the uapi enum (include/uapi/linux/bpf.h, btf.h, errno.h), a
//! [`name`](ProgType::name) without the C prefix, and a `Display` that falls
//! back to the number for a value this table does not know (a newer kernel's).
//! The commands are an enum instead: rawbpf only ever issues the ones it has.

use std::fmt;

/// One newtype per uapi enum: the constants, their names, `Display`.
macro_rules! uapi_enum {
    ($(#[$doc:meta])* $name:ident($repr:ty), prefix $prefix:literal {
        $($konst:ident = $val:literal,)*
    }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $repr);

        impl $name {
            $(
                #[doc = concat!("`", $prefix, stringify!($konst), "`.")]
                pub const $konst: $name = $name($val);
            )*

            /// Every value this table knows, in numeric order.
            pub const ALL: &'static [$name] = &[$($name::$konst),*];

            /// The C name's common prefix (`BPF_PROG_TYPE_` and so on).
            pub const PREFIX: &'static str = $prefix;

            /// The uapi name without [`Self::PREFIX`], if this value is known.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some(stringify!($konst)),)*
                    _ => None,
                }
            }

            /// The value whose short or full C name is `name`.
            pub fn from_name(name: &str) -> Option<$name> {
                let short = name.strip_prefix($prefix).unwrap_or(name);
                match short {
                    $(stringify!($konst) => Some($name::$konst),)*
                    _ => None,
                }
            }
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> $name {
                $name(v)
            }
        }

        impl fmt::Display for $name {
            /// The short name, or the number when this table does not know it.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => f.pad(name),
                    None => f.pad(&self.0.to_string()),
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => write!(f, "{}{name}", $prefix),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }
    };
}

/// `enum bpf_cmd`: the first argument of bpf().
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Cmd {
    /// `BPF_MAP_CREATE`: create a map, returning its fd.
    MapCreate = 0,
    /// `BPF_MAP_LOOKUP_ELEM`: read the value of a key.
    MapLookupElem = 1,
    /// `BPF_MAP_UPDATE_ELEM`: create or update an element.
    MapUpdateElem = 2,
    /// `BPF_MAP_DELETE_ELEM`: delete an element.
    MapDeleteElem = 3,
    /// `BPF_MAP_GET_NEXT_KEY`: the key after a given one, to iterate a map.
    MapGetNextKey = 4,
    /// `BPF_PROG_LOAD`: verify and load a program, returning its fd.
    ProgLoad = 5,
    /// `BPF_OBJ_PIN`: pin a map, program or link in bpffs.
    ObjPin = 6,
    /// `BPF_OBJ_GET`: open a pinned object by its bpffs path.
    ObjGet = 7,
    /// `BPF_PROG_ATTACH`: attach a program without a link (cgroups and others).
    ProgAttach = 8,
    /// `BPF_PROG_DETACH`: undo a BPF_PROG_ATTACH.
    ProgDetach = 9,
    /// `BPF_PROG_TEST_RUN`: run a program once on given input.
    ProgTestRun = 10,
    /// `BPF_PROG_GET_NEXT_ID`: the next loaded program's id.
    ProgGetNextId = 11,
    /// `BPF_MAP_GET_NEXT_ID`: the next map's id.
    MapGetNextId = 12,
    /// `BPF_PROG_GET_FD_BY_ID`: an fd for a program id.
    ProgGetFdById = 13,
    /// `BPF_MAP_GET_FD_BY_ID`: an fd for a map id.
    MapGetFdById = 14,
    /// `BPF_OBJ_GET_INFO_BY_FD`: the info struct of a program, map, BTF or link.
    ObjGetInfoByFd = 15,
    /// `BPF_PROG_QUERY`: the programs attached to a target at an attach type.
    ProgQuery = 16,
    /// `BPF_RAW_TRACEPOINT_OPEN`: attach a raw tracepoint or tracing program, returning a link fd.
    RawTracepointOpen = 17,
    /// `BPF_BTF_LOAD`: load BTF, returning its fd.
    BtfLoad = 18,
    /// `BPF_BTF_GET_FD_BY_ID`: an fd for a BTF object id.
    BtfGetFdById = 19,
    /// `BPF_TASK_FD_QUERY`: what a task's perf event fd has attached.
    TaskFdQuery = 20,
    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`: read and delete an element (pop, for queues and stacks).
    MapLookupAndDeleteElem = 21,
    /// `BPF_MAP_FREEZE`: make a map read-only for user space.
    MapFreeze = 22,
    /// `BPF_BTF_GET_NEXT_ID`: the next BTF object's id.
    BtfGetNextId = 23,
    /// `BPF_MAP_LOOKUP_BATCH`: read many elements in one call.
    MapLookupBatch = 24,
    /// `BPF_MAP_LOOKUP_AND_DELETE_BATCH`: read and delete many elements in one call.
    MapLookupAndDeleteBatch = 25,
    /// `BPF_MAP_UPDATE_BATCH`: update many elements in one call.
    MapUpdateBatch = 26,
    /// `BPF_MAP_DELETE_BATCH`: delete many elements in one call.
    MapDeleteBatch = 27,
    /// `BPF_LINK_CREATE`: attach a program through a new link, returning its fd.
    LinkCreate = 28,
    /// `BPF_LINK_UPDATE`: replace the program of a link.
    LinkUpdate = 29,
    /// `BPF_LINK_GET_FD_BY_ID`: an fd for a link id.
    LinkGetFdById = 30,
    /// `BPF_LINK_GET_NEXT_ID`: the next link's id.
    LinkGetNextId = 31,
    /// `BPF_ENABLE_STATS`: turn on programs' run-time statistics (`run_time_ns`, `run_cnt`).
    EnableStats = 32,
    /// `BPF_ITER_CREATE`: open an iterator from an iter link, to read() from.
    IterCreate = 33,
    /// `BPF_LINK_DETACH`: detach a link's program; the link stays, defunct.
    LinkDetach = 34,
    /// `BPF_PROG_BIND_MAP`: keep a map alive as long as a program (`used_maps`).
    ProgBindMap = 35,
    /// `BPF_TOKEN_CREATE`: create a BPF token from a bpffs mount's delegation.
    TokenCreate = 36,
}

impl Cmd {
    /// Every command, in numeric order.
    pub const ALL: &'static [Cmd] = &[
        Cmd::MapCreate,
        Cmd::MapLookupElem,
        Cmd::MapUpdateElem,
        Cmd::MapDeleteElem,
        Cmd::MapGetNextKey,
        Cmd::ProgLoad,
        Cmd::ObjPin,
        Cmd::ObjGet,
        Cmd::ProgAttach,
        Cmd::ProgDetach,
        Cmd::ProgTestRun,
        Cmd::ProgGetNextId,
        Cmd::MapGetNextId,
        Cmd::ProgGetFdById,
        Cmd::MapGetFdById,
        Cmd::ObjGetInfoByFd,
        Cmd::ProgQuery,
        Cmd::RawTracepointOpen,
        Cmd::BtfLoad,
        Cmd::BtfGetFdById,
        Cmd::TaskFdQuery,
        Cmd::MapLookupAndDeleteElem,
        Cmd::MapFreeze,
        Cmd::BtfGetNextId,
        Cmd::MapLookupBatch,
        Cmd::MapLookupAndDeleteBatch,
        Cmd::MapUpdateBatch,
        Cmd::MapDeleteBatch,
        Cmd::LinkCreate,
        Cmd::LinkUpdate,
        Cmd::LinkGetFdById,
        Cmd::LinkGetNextId,
        Cmd::EnableStats,
        Cmd::IterCreate,
        Cmd::LinkDetach,
        Cmd::ProgBindMap,
        Cmd::TokenCreate,
    ];

    /// The command with this number.
    pub fn from_u32(n: u32) -> Option<Cmd> {
        Cmd::ALL.get(n as usize).copied()
    }

    /// The full uapi name, `BPF_MAP_CREATE` and so on.
    pub fn name(self) -> &'static str {
        match self {
            Cmd::MapCreate => "BPF_MAP_CREATE",
            Cmd::MapLookupElem => "BPF_MAP_LOOKUP_ELEM",
            Cmd::MapUpdateElem => "BPF_MAP_UPDATE_ELEM",
            Cmd::MapDeleteElem => "BPF_MAP_DELETE_ELEM",
            Cmd::MapGetNextKey => "BPF_MAP_GET_NEXT_KEY",
            Cmd::ProgLoad => "BPF_PROG_LOAD",
            Cmd::ObjPin => "BPF_OBJ_PIN",
            Cmd::ObjGet => "BPF_OBJ_GET",
            Cmd::ProgAttach => "BPF_PROG_ATTACH",
            Cmd::ProgDetach => "BPF_PROG_DETACH",
            Cmd::ProgTestRun => "BPF_PROG_TEST_RUN",
            Cmd::ProgGetNextId => "BPF_PROG_GET_NEXT_ID",
            Cmd::MapGetNextId => "BPF_MAP_GET_NEXT_ID",
            Cmd::ProgGetFdById => "BPF_PROG_GET_FD_BY_ID",
            Cmd::MapGetFdById => "BPF_MAP_GET_FD_BY_ID",
            Cmd::ObjGetInfoByFd => "BPF_OBJ_GET_INFO_BY_FD",
            Cmd::ProgQuery => "BPF_PROG_QUERY",
            Cmd::RawTracepointOpen => "BPF_RAW_TRACEPOINT_OPEN",
            Cmd::BtfLoad => "BPF_BTF_LOAD",
            Cmd::BtfGetFdById => "BPF_BTF_GET_FD_BY_ID",
            Cmd::TaskFdQuery => "BPF_TASK_FD_QUERY",
            Cmd::MapLookupAndDeleteElem => "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
            Cmd::MapFreeze => "BPF_MAP_FREEZE",
            Cmd::BtfGetNextId => "BPF_BTF_GET_NEXT_ID",
            Cmd::MapLookupBatch => "BPF_MAP_LOOKUP_BATCH",
            Cmd::MapLookupAndDeleteBatch => "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
            Cmd::MapUpdateBatch => "BPF_MAP_UPDATE_BATCH",
            Cmd::MapDeleteBatch => "BPF_MAP_DELETE_BATCH",
            Cmd::LinkCreate => "BPF_LINK_CREATE",
            Cmd::LinkUpdate => "BPF_LINK_UPDATE",
            Cmd::LinkGetFdById => "BPF_LINK_GET_FD_BY_ID",
            Cmd::LinkGetNextId => "BPF_LINK_GET_NEXT_ID",
            Cmd::EnableStats => "BPF_ENABLE_STATS",
            Cmd::IterCreate => "BPF_ITER_CREATE",
            Cmd::LinkDetach => "BPF_LINK_DETACH",
            Cmd::ProgBindMap => "BPF_PROG_BIND_MAP",
            Cmd::TokenCreate => "BPF_TOKEN_CREATE",
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

uapi_enum! {
    /// `enum bpf_map_type`: what BPF_MAP_CREATE makes.
    MapType(u32), prefix "BPF_MAP_TYPE_" {
        UNSPEC = 0,
        HASH = 1,
        ARRAY = 2,
        PROG_ARRAY = 3,
        PERF_EVENT_ARRAY = 4,
        PERCPU_HASH = 5,
        PERCPU_ARRAY = 6,
        STACK_TRACE = 7,
        CGROUP_ARRAY = 8,
        LRU_HASH = 9,
        LRU_PERCPU_HASH = 10,
        LPM_TRIE = 11,
        ARRAY_OF_MAPS = 12,
        HASH_OF_MAPS = 13,
        DEVMAP = 14,
        SOCKMAP = 15,
        CPUMAP = 16,
        XSKMAP = 17,
        SOCKHASH = 18,
        CGROUP_STORAGE = 19,
        REUSEPORT_SOCKARRAY = 20,
        PERCPU_CGROUP_STORAGE = 21,
        QUEUE = 22,
        STACK = 23,
        SK_STORAGE = 24,
        DEVMAP_HASH = 25,
        STRUCT_OPS = 26,
        RINGBUF = 27,
        INODE_STORAGE = 28,
        TASK_STORAGE = 29,
        BLOOM_FILTER = 30,
        USER_RINGBUF = 31,
        CGRP_STORAGE = 32,
        ARENA = 33,
    }
}

uapi_enum! {
    /// `enum bpf_prog_type`: what kind of program BPF_PROG_LOAD loads.
    ProgType(u32), prefix "BPF_PROG_TYPE_" {
        UNSPEC = 0,
        SOCKET_FILTER = 1,
        KPROBE = 2,
        SCHED_CLS = 3,
        SCHED_ACT = 4,
        TRACEPOINT = 5,
        XDP = 6,
        PERF_EVENT = 7,
        CGROUP_SKB = 8,
        CGROUP_SOCK = 9,
        LWT_IN = 10,
        LWT_OUT = 11,
        LWT_XMIT = 12,
        SOCK_OPS = 13,
        SK_SKB = 14,
        CGROUP_DEVICE = 15,
        SK_MSG = 16,
        RAW_TRACEPOINT = 17,
        CGROUP_SOCK_ADDR = 18,
        LWT_SEG6LOCAL = 19,
        LIRC_MODE2 = 20,
        SK_REUSEPORT = 21,
        FLOW_DISSECTOR = 22,
        CGROUP_SYSCTL = 23,
        RAW_TRACEPOINT_WRITABLE = 24,
        CGROUP_SOCKOPT = 25,
        TRACING = 26,
        STRUCT_OPS = 27,
        EXT = 28,
        LSM = 29,
        SK_LOOKUP = 30,
        SYSCALL = 31,
        NETFILTER = 32,
    }
}

uapi_enum! {
    /// `enum bpf_attach_type`: where a program attaches (`expected_attach_type`,
/// `attach_type` of BPF_PROG_ATTACH and BPF_LINK_CREATE).
    AttachType(u32), prefix "BPF_" {
        CGROUP_INET_INGRESS = 0,
        CGROUP_INET_EGRESS = 1,
        CGROUP_INET_SOCK_CREATE = 2,
        CGROUP_SOCK_OPS = 3,
        SK_SKB_STREAM_PARSER = 4,
        SK_SKB_STREAM_VERDICT = 5,
        CGROUP_DEVICE = 6,
        SK_MSG_VERDICT = 7,
        CGROUP_INET4_BIND = 8,
        CGROUP_INET6_BIND = 9,
        CGROUP_INET4_CONNECT = 10,
        CGROUP_INET6_CONNECT = 11,
        CGROUP_INET4_POST_BIND = 12,
        CGROUP_INET6_POST_BIND = 13,
        CGROUP_UDP4_SENDMSG = 14,
        CGROUP_UDP6_SENDMSG = 15,
        LIRC_MODE2 = 16,
        FLOW_DISSECTOR = 17,
        CGROUP_SYSCTL = 18,
        CGROUP_UDP4_RECVMSG = 19,
        CGROUP_UDP6_RECVMSG = 20,
        CGROUP_GETSOCKOPT = 21,
        CGROUP_SETSOCKOPT = 22,
        TRACE_RAW_TP = 23,
        TRACE_FENTRY = 24,
        TRACE_FEXIT = 25,
        MODIFY_RETURN = 26,
        LSM_MAC = 27,
        TRACE_ITER = 28,
        CGROUP_INET4_GETPEERNAME = 29,
        CGROUP_INET6_GETPEERNAME = 30,
        CGROUP_INET4_GETSOCKNAME = 31,
        CGROUP_INET6_GETSOCKNAME = 32,
        XDP_DEVMAP = 33,
        CGROUP_INET_SOCK_RELEASE = 34,
        XDP_CPUMAP = 35,
        SK_LOOKUP = 36,
        XDP = 37,
        SK_SKB_VERDICT = 38,
        SK_REUSEPORT_SELECT = 39,
        SK_REUSEPORT_SELECT_OR_MIGRATE = 40,
        PERF_EVENT = 41,
        TRACE_KPROBE_MULTI = 42,
        LSM_CGROUP = 43,
        STRUCT_OPS = 44,
        NETFILTER = 45,
        TCX_INGRESS = 46,
        TCX_EGRESS = 47,
        TRACE_UPROBE_MULTI = 48,
        CGROUP_UNIX_CONNECT = 49,
        CGROUP_UNIX_SENDMSG = 50,
        CGROUP_UNIX_RECVMSG = 51,
        CGROUP_UNIX_GETPEERNAME = 52,
        CGROUP_UNIX_GETSOCKNAME = 53,
        NETKIT_PRIMARY = 54,
        NETKIT_PEER = 55,
        TRACE_KPROBE_SESSION = 56,
        TRACE_UPROBE_SESSION = 57,
    }
}

uapi_enum! {
    /// `enum bpf_link_type`: the kind of a BPF link, from BPF_OBJ_GET_INFO_BY_FD.
    LinkType(u32), prefix "BPF_LINK_TYPE_" {
        UNSPEC = 0,
        RAW_TRACEPOINT = 1,
        TRACING = 2,
        CGROUP = 3,
        ITER = 4,
        NETNS = 5,
        XDP = 6,
        PERF_EVENT = 7,
        KPROBE_MULTI = 8,
        STRUCT_OPS = 9,
        NETFILTER = 10,
        TCX = 11,
        UPROBE_MULTI = 12,
        NETKIT = 13,
        SOCKMAP = 14,
    }
}

impl AttachType {
    /// Attach types that attach to a cgroup (BPF_LINK_CREATE with a cgroup fd).
    pub const CGROUP: &'static [AttachType] = &[
        AttachType::CGROUP_INET_INGRESS,
        AttachType::CGROUP_INET_EGRESS,
        AttachType::CGROUP_INET_SOCK_CREATE,
        AttachType::CGROUP_SOCK_OPS,
        AttachType::CGROUP_DEVICE,
        AttachType::CGROUP_INET4_BIND,
        AttachType::CGROUP_INET6_BIND,
        AttachType::CGROUP_INET4_CONNECT,
        AttachType::CGROUP_INET6_CONNECT,
        AttachType::CGROUP_INET4_POST_BIND,
        AttachType::CGROUP_INET6_POST_BIND,
        AttachType::CGROUP_UDP4_SENDMSG,
        AttachType::CGROUP_UDP6_SENDMSG,
        AttachType::CGROUP_SYSCTL,
        AttachType::CGROUP_UDP4_RECVMSG,
        AttachType::CGROUP_UDP6_RECVMSG,
        AttachType::CGROUP_GETSOCKOPT,
        AttachType::CGROUP_SETSOCKOPT,
        AttachType::CGROUP_INET4_GETPEERNAME,
        AttachType::CGROUP_INET6_GETPEERNAME,
        AttachType::CGROUP_INET4_GETSOCKNAME,
        AttachType::CGROUP_INET6_GETSOCKNAME,
        AttachType::CGROUP_INET_SOCK_RELEASE,
    ];
}

uapi_enum! {
    /// `BTF_KIND_*` (include/uapi/linux/btf.h): bits 24-28 of a type's `info`.
    BtfKind(u32), prefix "BTF_KIND_" {
        UNKN = 0,
        INT = 1,
        PTR = 2,
        ARRAY = 3,
        STRUCT = 4,
        UNION = 5,
        ENUM = 6,
        FWD = 7,
        TYPEDEF = 8,
        VOLATILE = 9,
        CONST = 10,
        RESTRICT = 11,
        FUNC = 12,
        FUNC_PROTO = 13,
        VAR = 14,
        DATASEC = 15,
        FLOAT = 16,
        DECL_TAG = 17,
        TYPE_TAG = 18,
        ENUM64 = 19,
    }
}

uapi_enum! {
    /// An errno as the bpf() family returns it (positive). Besides errno.h
    /// this holds the kernel-internal ENOTSUPP (524), which leaks out of
    /// bpf() for some unsupported operations and which strerror() calls
    /// "Unknown error 524".
    Errno(i32), prefix "" {
        EPERM = 1,
        ENOENT = 2,
        ESRCH = 3,
        EINTR = 4,
        EIO = 5,
        ENXIO = 6,
        E2BIG = 7,
        EBADF = 9,
        EAGAIN = 11,
        ENOMEM = 12,
        EACCES = 13,
        EFAULT = 14,
        EBUSY = 16,
        EEXIST = 17,
        EXDEV = 18,
        ENODEV = 19,
        ENOTDIR = 20,
        EISDIR = 21,
        EINVAL = 22,
        ENFILE = 23,
        EMFILE = 24,
        ENOSPC = 28,
        ESPIPE = 29,
        EROFS = 30,
        ERANGE = 34,
        EDEADLK = 35,
        ENAMETOOLONG = 36,
        ENOSYS = 38,
        ENOTEMPTY = 39,
        ELOOP = 40,
        EPROTO = 71,
        EOVERFLOW = 75,
        EBADFD = 77,
        EOPNOTSUPP = 95,
        EADDRINUSE = 98,
        EADDRNOTAVAIL = 99,
        ENETUNREACH = 101,
        ECONNREFUSED = 111,
        ETIMEDOUT = 110,
        EALREADY = 114,
        EINPROGRESS = 115,
        ENOTSUPP = 524,
    }
}

impl Errno {
    /// The errno of an I/O error, if it has one.
    pub fn of(e: &std::io::Error) -> Option<Errno> {
        e.raw_os_error().map(Errno)
    }
}

/// Names of the helper functions by id (`enum bpf_func_id`, the
/// `__BPF_FUNC_MAPPER` list of include/uapi/linux/bpf.h), without `bpf_`.
const HELPERS: &[&str] = &[
    "unspec",
    "map_lookup_elem",
    "map_update_elem",
    "map_delete_elem",
    "probe_read",
    "ktime_get_ns",
    "trace_printk",
    "get_prandom_u32",
    "get_smp_processor_id",
    "skb_store_bytes",
    "l3_csum_replace",
    "l4_csum_replace",
    "tail_call",
    "clone_redirect",
    "get_current_pid_tgid",
    "get_current_uid_gid",
    "get_current_comm",
    "get_cgroup_classid",
    "skb_vlan_push",
    "skb_vlan_pop",
    "skb_get_tunnel_key",
    "skb_set_tunnel_key",
    "perf_event_read",
    "redirect",
    "get_route_realm",
    "perf_event_output",
    "skb_load_bytes",
    "get_stackid",
    "csum_diff",
    "skb_get_tunnel_opt",
    "skb_set_tunnel_opt",
    "skb_change_proto",
    "skb_change_type",
    "skb_under_cgroup",
    "get_hash_recalc",
    "get_current_task",
    "probe_write_user",
    "current_task_under_cgroup",
    "skb_change_tail",
    "skb_pull_data",
    "csum_update",
    "set_hash_invalid",
    "get_numa_node_id",
    "skb_change_head",
    "xdp_adjust_head",
    "probe_read_str",
    "get_socket_cookie",
    "get_socket_uid",
    "set_hash",
    "setsockopt",
    "skb_adjust_room",
    "redirect_map",
    "sk_redirect_map",
    "sock_map_update",
    "xdp_adjust_meta",
    "perf_event_read_value",
    "perf_prog_read_value",
    "getsockopt",
    "override_return",
    "sock_ops_cb_flags_set",
    "msg_redirect_map",
    "msg_apply_bytes",
    "msg_cork_bytes",
    "msg_pull_data",
    "bind",
    "xdp_adjust_tail",
    "skb_get_xfrm_state",
    "get_stack",
    "skb_load_bytes_relative",
    "fib_lookup",
    "sock_hash_update",
    "msg_redirect_hash",
    "sk_redirect_hash",
    "lwt_push_encap",
    "lwt_seg6_store_bytes",
    "lwt_seg6_adjust_srh",
    "lwt_seg6_action",
    "rc_repeat",
    "rc_keydown",
    "skb_cgroup_id",
    "get_current_cgroup_id",
    "get_local_storage",
    "sk_select_reuseport",
    "skb_ancestor_cgroup_id",
    "sk_lookup_tcp",
    "sk_lookup_udp",
    "sk_release",
    "map_push_elem",
    "map_pop_elem",
    "map_peek_elem",
    "msg_push_data",
    "msg_pop_data",
    "rc_pointer_rel",
    "spin_lock",
    "spin_unlock",
    "sk_fullsock",
    "tcp_sock",
    "skb_ecn_set_ce",
    "get_listener_sock",
    "skc_lookup_tcp",
    "tcp_check_syncookie",
    "sysctl_get_name",
    "sysctl_get_current_value",
    "sysctl_get_new_value",
    "sysctl_set_new_value",
    "strtol",
    "strtoul",
    "sk_storage_get",
    "sk_storage_delete",
    "send_signal",
    "tcp_gen_syncookie",
    "skb_output",
    "probe_read_user",
    "probe_read_kernel",
    "probe_read_user_str",
    "probe_read_kernel_str",
    "tcp_send_ack",
    "send_signal_thread",
    "jiffies64",
    "read_branch_records",
    "get_ns_current_pid_tgid",
    "xdp_output",
    "get_netns_cookie",
    "get_current_ancestor_cgroup_id",
    "sk_assign",
    "ktime_get_boot_ns",
    "seq_printf",
    "seq_write",
    "sk_cgroup_id",
    "sk_ancestor_cgroup_id",
    "ringbuf_output",
    "ringbuf_reserve",
    "ringbuf_submit",
    "ringbuf_discard",
    "ringbuf_query",
    "csum_level",
    "skc_to_tcp6_sock",
    "skc_to_tcp_sock",
    "skc_to_tcp_timewait_sock",
    "skc_to_tcp_request_sock",
    "skc_to_udp6_sock",
    "get_task_stack",
    "load_hdr_opt",
    "store_hdr_opt",
    "reserve_hdr_opt",
    "inode_storage_get",
    "inode_storage_delete",
    "d_path",
    "copy_from_user",
    "snprintf_btf",
    "seq_printf_btf",
    "skb_cgroup_classid",
    "redirect_neigh",
    "per_cpu_ptr",
    "this_cpu_ptr",
    "redirect_peer",
    "task_storage_get",
    "task_storage_delete",
    "get_current_task_btf",
    "bprm_opts_set",
    "ktime_get_coarse_ns",
    "ima_inode_hash",
    "sock_from_file",
    "check_mtu",
    "for_each_map_elem",
    "snprintf",
    "sys_bpf",
    "btf_find_by_name_kind",
    "sys_close",
    "timer_init",
    "timer_set_callback",
    "timer_start",
    "timer_cancel",
    "get_func_ip",
    "get_attach_cookie",
    "task_pt_regs",
    "get_branch_snapshot",
    "trace_vprintk",
    "skc_to_unix_sock",
    "kallsyms_lookup_name",
    "find_vma",
    "loop",
    "strncmp",
    "get_func_arg",
    "get_func_ret",
    "get_func_arg_cnt",
    "get_retval",
    "set_retval",
    "xdp_get_buff_len",
    "xdp_load_bytes",
    "xdp_store_bytes",
    "copy_from_user_task",
    "skb_set_tstamp",
    "ima_file_hash",
    "kptr_xchg",
    "map_lookup_percpu_elem",
    "skc_to_mptcp_sock",
    "dynptr_from_mem",
    "ringbuf_reserve_dynptr",
    "ringbuf_submit_dynptr",
    "ringbuf_discard_dynptr",
    "dynptr_read",
    "dynptr_write",
    "dynptr_data",
    "tcp_raw_gen_syncookie_ipv4",
    "tcp_raw_gen_syncookie_ipv6",
    "tcp_raw_check_syncookie_ipv4",
    "tcp_raw_check_syncookie_ipv6",
    "ktime_get_tai_ns",
    "user_ringbuf_drain",
    "cgrp_storage_get",
    "cgrp_storage_delete",
];

/// The helper function called by `call ID`: `bpf_timer_cancel` for 172.
pub fn helper_name(id: i32) -> Option<String> {
    let name = HELPERS.get(usize::try_from(id).ok()?)?;
    (id != 0).then(|| format!("bpf_{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(name, value)` of each enumerator of `enum NAME { ... }` in a C header,
    /// counting like the compiler: explicit `= N` or one past the previous.
    fn c_enum(header: &str, name: &str) -> Vec<(String, i64)> {
        let start = header
            .find(&format!("enum {name} {{"))
            .unwrap_or_else(|| panic!("enum {name} not in bpf.h"));
        let body = &header[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find("};").unwrap()];
        let mut out = Vec::new();
        let mut next = 0i64;
        let mut text = String::new();
        // Drop comments.
        let mut rest = body;
        while let Some(i) = rest.find("/*") {
            text += &rest[..i];
            rest = &rest[rest[i..].find("*/").map_or(rest.len(), |j| i + j + 2)..];
        }
        text += rest;
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (n, v) = match item.split_once('=') {
                Some((n, v)) => match v.trim().parse::<i64>() {
                    Ok(v) => (n.trim(), v),
                    // An alias of an earlier name (BPF_PROG_RUN = BPF_PROG_TEST_RUN).
                    Err(_) => continue,
                },
                None => (item, next),
            };
            out.push((n.to_string(), v));
            next = v + 1;
        }
        out
    }

    const BPF_H: &str = "/usr/include/linux/bpf.h";

    /// Every name of ours that the installed header has must have its value,
    /// and most of the header's names must be ours.
    fn check<T: Copy>(
        header: &str,
        enum_name: &str,
        prefix: &str,
        ours: &[T],
        value: fn(T) -> i64,
        name: fn(T) -> String,
    ) {
        let theirs = c_enum(header, enum_name);
        let mut matched = 0;
        for &(ref n, v) in &theirs {
            if n.starts_with("__") || n.starts_with("MAX_") {
                continue;
            }
            match ours.iter().find(|&&o| format!("{prefix}{}", name(o)) == *n) {
                Some(&o) => {
                    assert_eq!(value(o), v, "{n}");
                    matched += 1;
                }
                None => panic!("{n} = {v} of {enum_name} is missing from uapi.rs"),
            }
        }
        assert!(
            matched >= 10,
            "only {matched} names of {enum_name} compared"
        );
    }

    #[test]
    fn tables_match_the_installed_bpf_h() {
        // Without the header (a VM image) the fixed values below still run.
        let Ok(h) = std::fs::read_to_string(BPF_H) else {
            eprintln!("{BPF_H} not found: only the fixed values are checked");
            return;
        };
        check(
            &h,
            "bpf_cmd",
            "",
            Cmd::ALL,
            |c| c as i64,
            |c| c.name().into(),
        );
        check(
            &h,
            "bpf_map_type",
            "BPF_MAP_TYPE_",
            MapType::ALL,
            |t| t.0 as i64,
            |t| t.name().unwrap().into(),
        );
        check(
            &h,
            "bpf_prog_type",
            "BPF_PROG_TYPE_",
            ProgType::ALL,
            |t| t.0 as i64,
            |t| t.name().unwrap().into(),
        );
        check(
            &h,
            "bpf_attach_type",
            "BPF_",
            AttachType::ALL,
            |t| t.0 as i64,
            |t| t.name().unwrap().into(),
        );
        check(
            &h,
            "bpf_link_type",
            "BPF_LINK_TYPE_",
            LinkType::ALL,
            |t| t.0 as i64,
            |t| t.name().unwrap().into(),
        );
        // The helper list: bpf_func_id counts up from BPF_FUNC_unspec = 0.
        let start = h
            .find("#define __BPF_FUNC_MAPPER(FN)")
            .expect("helper list in bpf.h");
        let list = &h[start..start + h[start..].find("\n\n").unwrap()];
        let theirs: Vec<&str> = list
            .split("FN(")
            .skip(1)
            .map(|s| &s[..s.find(')').unwrap()])
            .collect();
        assert!(theirs.len() > 200);
        assert_eq!(&HELPERS[..theirs.len()], &theirs[..]);
    }

    #[test]
    fn fixed_values_and_names() {
        assert_eq!(ProgType::CGROUP_SKB.0, 8);
        assert_eq!(ProgType::CGROUP_SKB.to_string(), "CGROUP_SKB");
        assert_eq!(AttachType::CGROUP_INET_EGRESS.0, 1);
        assert_eq!(AttachType(1).to_string(), "CGROUP_INET_EGRESS");
        assert_eq!(AttachType::TCX_INGRESS.0, 46);
        assert_eq!(MapType::ARRAY.0, 2);
        assert_eq!(MapType(2).to_string(), "ARRAY");
        assert_eq!(LinkType::CGROUP.0, 3);
        assert_eq!(LinkType::TCX.0, 11);
        assert_eq!(BtfKind::DATASEC.0, 15);
        assert_eq!(Cmd::ProgLoad as u32, 5);
        assert_eq!(Cmd::LinkDetach as u32, 34);
        assert_eq!(Cmd::from_u32(28), Some(Cmd::LinkCreate));
        assert_eq!(Cmd::from_u32(1000), None);
        for (i, c) in Cmd::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
        // Unknown values print as their number, padded like names.
        assert_eq!(ProgType(999).to_string(), "999");
        assert_eq!(format!("{:<5}|", MapType(99)), "99   |");
        assert_eq!(format!("{:?}", ProgType::XDP), "BPF_PROG_TYPE_XDP");
        assert_eq!(
            ProgType::from_name("BPF_PROG_TYPE_XDP"),
            Some(ProgType::XDP)
        );
        assert_eq!(
            AttachType::from_name("CGROUP_INET_EGRESS"),
            Some(AttachType(1))
        );
        assert_eq!(helper_name(172).as_deref(), Some("bpf_timer_cancel"));
        assert_eq!(helper_name(1).as_deref(), Some("bpf_map_lookup_elem"));
        assert_eq!(helper_name(0), None);
        assert_eq!(helper_name(-1), None);
        assert_eq!(helper_name(100_000), None);
    }

    #[test]
    fn errno_names_match_libc() {
        for e in Errno::ALL {
            let libc_value = match e.name().unwrap() {
                "EPERM" => libc::EPERM,
                "ENOENT" => libc::ENOENT,
                "EBUSY" => libc::EBUSY,
                "EINVAL" => libc::EINVAL,
                "EDEADLK" => libc::EDEADLK,
                "EOPNOTSUPP" => libc::EOPNOTSUPP,
                "E2BIG" => libc::E2BIG,
                "EACCES" => libc::EACCES,
                "EAGAIN" => libc::EAGAIN,
                "EFAULT" => libc::EFAULT,
                "ENOSPC" => libc::ENOSPC,
                "ETIMEDOUT" => libc::ETIMEDOUT,
                "EALREADY" => libc::EALREADY,
                "EINPROGRESS" => libc::EINPROGRESS,
                "ECONNREFUSED" => libc::ECONNREFUSED,
                "ENETUNREACH" => libc::ENETUNREACH,
                "EADDRNOTAVAIL" => libc::EADDRNOTAVAIL,
                "EADDRINUSE" => libc::EADDRINUSE,
                "EBADFD" => libc::EBADFD,
                "EOVERFLOW" => libc::EOVERFLOW,
                "EPROTO" => libc::EPROTO,
                "ELOOP" => libc::ELOOP,
                "ENOTEMPTY" => libc::ENOTEMPTY,
                "ENOSYS" => libc::ENOSYS,
                "ENAMETOOLONG" => libc::ENAMETOOLONG,
                "ERANGE" => libc::ERANGE,
                "EROFS" => libc::EROFS,
                "ESPIPE" => libc::ESPIPE,
                "EMFILE" => libc::EMFILE,
                "ENFILE" => libc::ENFILE,
                "EISDIR" => libc::EISDIR,
                "ENOTDIR" => libc::ENOTDIR,
                "ENODEV" => libc::ENODEV,
                "EXDEV" => libc::EXDEV,
                "EEXIST" => libc::EEXIST,
                "ENOMEM" => libc::ENOMEM,
                "EBADF" => libc::EBADF,
                "ENXIO" => libc::ENXIO,
                "EIO" => libc::EIO,
                "EINTR" => libc::EINTR,
                "ESRCH" => libc::ESRCH,
                // include/linux/errno.h, not exported to user space.
                "ENOTSUPP" => 524,
                other => panic!("{other} not compared"),
            };
            assert_eq!(e.0, libc_value, "{e}");
        }
        assert_eq!(Errno(524).to_string(), "ENOTSUPP");
    }
}

/// `enum bpf_prog_type` values as plain numbers, for the attr structs
/// (named in [`crate::uapi::ProgType`]).
pub mod prog_type {
    use crate::uapi::ProgType;

    /// `BPF_PROG_TYPE_SOCKET_FILTER`.
    pub const SOCKET_FILTER: u32 = ProgType::SOCKET_FILTER.0;
    /// `BPF_PROG_TYPE_KPROBE`.
    pub const KPROBE: u32 = ProgType::KPROBE.0;
    /// `BPF_PROG_TYPE_SCHED_CLS`.
    pub const SCHED_CLS: u32 = ProgType::SCHED_CLS.0;
    /// `BPF_PROG_TYPE_SCHED_ACT`.
    pub const SCHED_ACT: u32 = ProgType::SCHED_ACT.0;
    /// `BPF_PROG_TYPE_TRACEPOINT`.
    pub const TRACEPOINT: u32 = ProgType::TRACEPOINT.0;
    /// `BPF_PROG_TYPE_XDP`.
    pub const XDP: u32 = ProgType::XDP.0;
    /// `BPF_PROG_TYPE_PERF_EVENT`.
    pub const PERF_EVENT: u32 = ProgType::PERF_EVENT.0;
    /// `BPF_PROG_TYPE_CGROUP_SKB`.
    pub const CGROUP_SKB: u32 = ProgType::CGROUP_SKB.0;
    /// `BPF_PROG_TYPE_CGROUP_SOCK`.
    pub const CGROUP_SOCK: u32 = ProgType::CGROUP_SOCK.0;
    /// `BPF_PROG_TYPE_LWT_IN`.
    pub const LWT_IN: u32 = ProgType::LWT_IN.0;
    /// `BPF_PROG_TYPE_LWT_OUT`.
    pub const LWT_OUT: u32 = ProgType::LWT_OUT.0;
    /// `BPF_PROG_TYPE_LWT_XMIT`.
    pub const LWT_XMIT: u32 = ProgType::LWT_XMIT.0;
    /// `BPF_PROG_TYPE_SOCK_OPS`.
    pub const SOCK_OPS: u32 = ProgType::SOCK_OPS.0;
    /// `BPF_PROG_TYPE_SK_SKB`.
    pub const SK_SKB: u32 = ProgType::SK_SKB.0;
    /// `BPF_PROG_TYPE_CGROUP_DEVICE`.
    pub const CGROUP_DEVICE: u32 = ProgType::CGROUP_DEVICE.0;
    /// `BPF_PROG_TYPE_SK_MSG`.
    pub const SK_MSG: u32 = ProgType::SK_MSG.0;
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT`.
    pub const RAW_TRACEPOINT: u32 = ProgType::RAW_TRACEPOINT.0;
    /// `BPF_PROG_TYPE_CGROUP_SOCK_ADDR`.
    pub const CGROUP_SOCK_ADDR: u32 = ProgType::CGROUP_SOCK_ADDR.0;
    /// `BPF_PROG_TYPE_LWT_SEG6LOCAL`.
    pub const LWT_SEG6LOCAL: u32 = ProgType::LWT_SEG6LOCAL.0;
    /// `BPF_PROG_TYPE_LIRC_MODE2`.
    pub const LIRC_MODE2: u32 = ProgType::LIRC_MODE2.0;
    /// `BPF_PROG_TYPE_SK_REUSEPORT`.
    pub const SK_REUSEPORT: u32 = ProgType::SK_REUSEPORT.0;
    /// `BPF_PROG_TYPE_FLOW_DISSECTOR`.
    pub const FLOW_DISSECTOR: u32 = ProgType::FLOW_DISSECTOR.0;
    /// `BPF_PROG_TYPE_CGROUP_SYSCTL`.
    pub const CGROUP_SYSCTL: u32 = ProgType::CGROUP_SYSCTL.0;
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE`.
    pub const RAW_TRACEPOINT_WRITABLE: u32 = ProgType::RAW_TRACEPOINT_WRITABLE.0;
    /// `BPF_PROG_TYPE_CGROUP_SOCKOPT`.
    pub const CGROUP_SOCKOPT: u32 = ProgType::CGROUP_SOCKOPT.0;
    /// `BPF_PROG_TYPE_TRACING`.
    pub const TRACING: u32 = ProgType::TRACING.0;
    /// `BPF_PROG_TYPE_STRUCT_OPS`.
    pub const STRUCT_OPS: u32 = ProgType::STRUCT_OPS.0;
    /// `BPF_PROG_TYPE_EXT`.
    pub const EXT: u32 = ProgType::EXT.0;
    /// `BPF_PROG_TYPE_LSM`.
    pub const LSM: u32 = ProgType::LSM.0;
    /// `BPF_PROG_TYPE_SK_LOOKUP`.
    pub const SK_LOOKUP: u32 = ProgType::SK_LOOKUP.0;
    /// `BPF_PROG_TYPE_SYSCALL`.
    pub const SYSCALL: u32 = ProgType::SYSCALL.0;
    /// `BPF_PROG_TYPE_NETFILTER`.
    pub const NETFILTER: u32 = ProgType::NETFILTER.0;
}

/// `enum bpf_attach_type` values as plain numbers, for the attr structs
/// (named in [`crate::uapi::AttachType`]).
pub mod attach_type {
    use crate::uapi::AttachType;

    /// `BPF_CGROUP_INET_INGRESS`.
    pub const CGROUP_INET_INGRESS: u32 = AttachType::CGROUP_INET_INGRESS.0;
    /// `BPF_CGROUP_INET_EGRESS`.
    pub const CGROUP_INET_EGRESS: u32 = AttachType::CGROUP_INET_EGRESS.0;
    /// `BPF_CGROUP_INET_SOCK_CREATE`.
    pub const CGROUP_INET_SOCK_CREATE: u32 = AttachType::CGROUP_INET_SOCK_CREATE.0;
    /// `BPF_CGROUP_SOCK_OPS`.
    pub const CGROUP_SOCK_OPS: u32 = AttachType::CGROUP_SOCK_OPS.0;
    /// `BPF_SK_SKB_STREAM_PARSER`.
    pub const SK_SKB_STREAM_PARSER: u32 = AttachType::SK_SKB_STREAM_PARSER.0;
    /// `BPF_SK_SKB_STREAM_VERDICT`.
    pub const SK_SKB_STREAM_VERDICT: u32 = AttachType::SK_SKB_STREAM_VERDICT.0;
    /// `BPF_CGROUP_DEVICE`.
    pub const CGROUP_DEVICE: u32 = AttachType::CGROUP_DEVICE.0;
    /// `BPF_SK_MSG_VERDICT`.
    pub const SK_MSG_VERDICT: u32 = AttachType::SK_MSG_VERDICT.0;
    /// `BPF_CGROUP_INET4_BIND`.
    pub const CGROUP_INET4_BIND: u32 = AttachType::CGROUP_INET4_BIND.0;
    /// `BPF_CGROUP_INET6_BIND`.
    pub const CGROUP_INET6_BIND: u32 = AttachType::CGROUP_INET6_BIND.0;
    /// `BPF_CGROUP_INET4_CONNECT`.
    pub const CGROUP_INET4_CONNECT: u32 = AttachType::CGROUP_INET4_CONNECT.0;
    /// `BPF_CGROUP_INET6_CONNECT`.
    pub const CGROUP_INET6_CONNECT: u32 = AttachType::CGROUP_INET6_CONNECT.0;
    /// `BPF_CGROUP_INET4_POST_BIND`.
    pub const CGROUP_INET4_POST_BIND: u32 = AttachType::CGROUP_INET4_POST_BIND.0;
    /// `BPF_CGROUP_INET6_POST_BIND`.
    pub const CGROUP_INET6_POST_BIND: u32 = AttachType::CGROUP_INET6_POST_BIND.0;
    /// `BPF_CGROUP_UDP4_SENDMSG`.
    pub const CGROUP_UDP4_SENDMSG: u32 = AttachType::CGROUP_UDP4_SENDMSG.0;
    /// `BPF_CGROUP_UDP6_SENDMSG`.
    pub const CGROUP_UDP6_SENDMSG: u32 = AttachType::CGROUP_UDP6_SENDMSG.0;
    /// `BPF_LIRC_MODE2`.
    pub const LIRC_MODE2: u32 = AttachType::LIRC_MODE2.0;
    /// `BPF_FLOW_DISSECTOR`.
    pub const FLOW_DISSECTOR: u32 = AttachType::FLOW_DISSECTOR.0;
    /// `BPF_CGROUP_SYSCTL`.
    pub const CGROUP_SYSCTL: u32 = AttachType::CGROUP_SYSCTL.0;
    /// `BPF_CGROUP_UDP4_RECVMSG`.
    pub const CGROUP_UDP4_RECVMSG: u32 = AttachType::CGROUP_UDP4_RECVMSG.0;
    /// `BPF_CGROUP_UDP6_RECVMSG`.
    pub const CGROUP_UDP6_RECVMSG: u32 = AttachType::CGROUP_UDP6_RECVMSG.0;
    /// `BPF_CGROUP_GETSOCKOPT`.
    pub const CGROUP_GETSOCKOPT: u32 = AttachType::CGROUP_GETSOCKOPT.0;
    /// `BPF_CGROUP_SETSOCKOPT`.
    pub const CGROUP_SETSOCKOPT: u32 = AttachType::CGROUP_SETSOCKOPT.0;
    /// `BPF_TRACE_RAW_TP`.
    pub const TRACE_RAW_TP: u32 = AttachType::TRACE_RAW_TP.0;
    /// `BPF_TRACE_FENTRY`.
    pub const TRACE_FENTRY: u32 = AttachType::TRACE_FENTRY.0;
    /// `BPF_TRACE_FEXIT`.
    pub const TRACE_FEXIT: u32 = AttachType::TRACE_FEXIT.0;
    /// `BPF_MODIFY_RETURN`.
    pub const MODIFY_RETURN: u32 = AttachType::MODIFY_RETURN.0;
    /// `BPF_LSM_MAC`.
    pub const LSM_MAC: u32 = AttachType::LSM_MAC.0;
    /// `BPF_TRACE_ITER`.
    pub const TRACE_ITER: u32 = AttachType::TRACE_ITER.0;
    /// `BPF_CGROUP_INET4_GETPEERNAME`.
    pub const CGROUP_INET4_GETPEERNAME: u32 = AttachType::CGROUP_INET4_GETPEERNAME.0;
    /// `BPF_CGROUP_INET6_GETPEERNAME`.
    pub const CGROUP_INET6_GETPEERNAME: u32 = AttachType::CGROUP_INET6_GETPEERNAME.0;
    /// `BPF_CGROUP_INET4_GETSOCKNAME`.
    pub const CGROUP_INET4_GETSOCKNAME: u32 = AttachType::CGROUP_INET4_GETSOCKNAME.0;
    /// `BPF_CGROUP_INET6_GETSOCKNAME`.
    pub const CGROUP_INET6_GETSOCKNAME: u32 = AttachType::CGROUP_INET6_GETSOCKNAME.0;
    /// `BPF_XDP_DEVMAP`.
    pub const XDP_DEVMAP: u32 = AttachType::XDP_DEVMAP.0;
    /// `BPF_CGROUP_INET_SOCK_RELEASE`.
    pub const CGROUP_INET_SOCK_RELEASE: u32 = AttachType::CGROUP_INET_SOCK_RELEASE.0;
    /// `BPF_XDP_CPUMAP`.
    pub const XDP_CPUMAP: u32 = AttachType::XDP_CPUMAP.0;
    /// `BPF_SK_LOOKUP`.
    pub const SK_LOOKUP: u32 = AttachType::SK_LOOKUP.0;
    /// `BPF_XDP`.
    pub const XDP: u32 = AttachType::XDP.0;
    /// `BPF_SK_SKB_VERDICT`.
    pub const SK_SKB_VERDICT: u32 = AttachType::SK_SKB_VERDICT.0;
    /// `BPF_SK_REUSEPORT_SELECT`.
    pub const SK_REUSEPORT_SELECT: u32 = AttachType::SK_REUSEPORT_SELECT.0;
    /// `BPF_SK_REUSEPORT_SELECT_OR_MIGRATE`.
    pub const SK_REUSEPORT_SELECT_OR_MIGRATE: u32 = AttachType::SK_REUSEPORT_SELECT_OR_MIGRATE.0;
    /// `BPF_TRACE_KPROBE_MULTI`.
    pub const TRACE_KPROBE_MULTI: u32 = AttachType::TRACE_KPROBE_MULTI.0;
    /// `BPF_LSM_CGROUP`.
    pub const LSM_CGROUP: u32 = AttachType::LSM_CGROUP.0;
    /// `BPF_NETFILTER`.
    pub const NETFILTER: u32 = AttachType::NETFILTER.0;
    /// tc ingress through a link (Linux 6.6); "tc" programs load without it.
    pub const TCX_INGRESS: u32 = AttachType::TCX_INGRESS.0;
    /// `BPF_TCX_EGRESS`: tc egress through a link (Linux 6.6).
    pub const TCX_EGRESS: u32 = AttachType::TCX_EGRESS.0;
    /// `BPF_TRACE_UPROBE_MULTI`.
    pub const TRACE_UPROBE_MULTI: u32 = AttachType::TRACE_UPROBE_MULTI.0;
    /// `BPF_CGROUP_UNIX_CONNECT`.
    pub const CGROUP_UNIX_CONNECT: u32 = AttachType::CGROUP_UNIX_CONNECT.0;
    /// `BPF_CGROUP_UNIX_SENDMSG`.
    pub const CGROUP_UNIX_SENDMSG: u32 = AttachType::CGROUP_UNIX_SENDMSG.0;
    /// `BPF_CGROUP_UNIX_RECVMSG`.
    pub const CGROUP_UNIX_RECVMSG: u32 = AttachType::CGROUP_UNIX_RECVMSG.0;
    /// `BPF_CGROUP_UNIX_GETPEERNAME`.
    pub const CGROUP_UNIX_GETPEERNAME: u32 = AttachType::CGROUP_UNIX_GETPEERNAME.0;
    /// `BPF_CGROUP_UNIX_GETSOCKNAME`.
    pub const CGROUP_UNIX_GETSOCKNAME: u32 = AttachType::CGROUP_UNIX_GETSOCKNAME.0;
    /// `BPF_NETKIT_PRIMARY`.
    pub const NETKIT_PRIMARY: u32 = AttachType::NETKIT_PRIMARY.0;
    /// `BPF_NETKIT_PEER`.
    pub const NETKIT_PEER: u32 = AttachType::NETKIT_PEER.0;
    /// `BPF_TRACE_KPROBE_SESSION`.
    pub const TRACE_KPROBE_SESSION: u32 = AttachType::TRACE_KPROBE_SESSION.0;
    /// `BPF_TRACE_UPROBE_SESSION`.
    pub const TRACE_UPROBE_SESSION: u32 = AttachType::TRACE_UPROBE_SESSION.0;

    /// Attach types that attach to a cgroup (BPF_LINK_CREATE with a cgroup fd).
    pub const CGROUP: &[u32] = &[
        CGROUP_INET_INGRESS,
        CGROUP_INET_EGRESS,
        CGROUP_INET_SOCK_CREATE,
        CGROUP_SOCK_OPS,
        CGROUP_DEVICE,
        CGROUP_INET4_BIND,
        CGROUP_INET6_BIND,
        CGROUP_INET4_CONNECT,
        CGROUP_INET6_CONNECT,
        CGROUP_INET4_POST_BIND,
        CGROUP_INET6_POST_BIND,
        CGROUP_UDP4_SENDMSG,
        CGROUP_UDP6_SENDMSG,
        CGROUP_SYSCTL,
        CGROUP_UDP4_RECVMSG,
        CGROUP_UDP6_RECVMSG,
        CGROUP_GETSOCKOPT,
        CGROUP_SETSOCKOPT,
        CGROUP_INET4_GETPEERNAME,
        CGROUP_INET6_GETPEERNAME,
        CGROUP_INET4_GETSOCKNAME,
        CGROUP_INET6_GETSOCKNAME,
        CGROUP_INET_SOCK_RELEASE,
        CGROUP_UNIX_CONNECT,
        CGROUP_UNIX_SENDMSG,
        CGROUP_UNIX_RECVMSG,
        CGROUP_UNIX_GETPEERNAME,
        CGROUP_UNIX_GETSOCKNAME,
    ];
}
