/* bpf_timer in every program type the bpf_timer_cancel page lists: each
 * program inits, arms (an hour ahead, so it never fires) and cancels a timer
 * in its own slot, and records the four return values in `type_results`
 * (src/selftest/types.rs mirrors the layout and slot numbers):
 *
 *   struct type_result {    40 bytes, native endian, one per slot
 *       s64 init;          @0   bpf_timer_init
 *       s64 set_callback;  @8   bpf_timer_set_callback
 *       s64 start;         @16  bpf_timer_start (an hour ahead)
 *       s64 cancel;        @24  bpf_timer_cancel
 *       u64 runs;          @32  how many times the program ran
 *   };
 *
 * A first run records 0, 0, 0, 1; later runs find the timer initialised and
 * record -EBUSY for init. Each program returns the value its type reads as
 * "allow" or "pass". */
#include <linux/bpf.h>
#include <time.h>
#include <bpf/bpf_helpers.h>

#define NTYPES 24
#define FAR_NS (3600ULL * 1000000000ULL)

struct type_result {
	__s64 init;
	__s64 set_callback;
	__s64 start;
	__s64 cancel;
	__u64 runs;
};

struct elem {
	struct bpf_timer t;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NTYPES);
	__type(key, __u32);
	__type(value, struct elem);
} type_timers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NTYPES);
	__type(key, __u32);
	__type(value, struct type_result);
} type_results SEC(".maps");

static int noop_cb(void *map, __u32 *key, struct elem *value)
{
	return 0;
}

static __always_inline void exercise(__u32 slot)
{
	struct elem *e = bpf_map_lookup_elem(&type_timers, &slot);
	struct type_result *r = bpf_map_lookup_elem(&type_results, &slot);

	if (!e || !r)
		return;
	r->init = bpf_timer_init(&e->t, &type_timers, CLOCK_MONOTONIC);
	r->set_callback = bpf_timer_set_callback(&e->t, noop_cb);
	r->start = bpf_timer_start(&e->t, FAR_NS, 0);
	r->cancel = bpf_timer_cancel(&e->t);
	__sync_fetch_and_add(&r->runs, 1);
}

/* Slots follow the order of the seed page's list. */
SEC("cgroup/dev")
int t_cgroup_device(struct bpf_cgroup_dev_ctx *ctx)
{
	exercise(0);
	return 1; /* allow */
}

SEC("cgroup_skb/egress")
int t_cgroup_skb(struct __sk_buff *skb)
{
	exercise(1);
	return 1;
}

SEC("cgroup/sock_create")
int t_cgroup_sock(struct bpf_sock *sk)
{
	exercise(2);
	return 1;
}

SEC("cgroup/getsockopt")
int t_cgroup_sockopt(struct bpf_sockopt *ctx)
{
	exercise(3);
	return 1;
}

SEC("cgroup/connect4")
int t_cgroup_sock_addr(struct bpf_sock_addr *ctx)
{
	exercise(4);
	return 1;
}

SEC("cgroup/sysctl")
int t_cgroup_sysctl(struct bpf_sysctl *ctx)
{
	exercise(5);
	return 1;
}

SEC("flow_dissector")
int t_flow_dissector(struct __sk_buff *skb)
{
	exercise(6);
	return BPF_OK;
}

/* LSM and fentry programs get the hook's arguments as an array of u64. */
SEC("lsm/file_open")
int t_lsm(unsigned long long *ctx)
{
	exercise(7);
	return 0;
}

SEC("lwt_in")
int t_lwt_in(struct __sk_buff *skb)
{
	exercise(8);
	return BPF_OK;
}

SEC("lwt_out")
int t_lwt_out(struct __sk_buff *skb)
{
	exercise(9);
	return BPF_OK;
}

SEC("lwt_seg6local")
int t_lwt_seg6local(struct __sk_buff *skb)
{
	exercise(10);
	return BPF_OK;
}

SEC("lwt_xmit")
int t_lwt_xmit(struct __sk_buff *skb)
{
	exercise(11);
	return BPF_OK;
}

SEC("action")
int t_sched_act(struct __sk_buff *skb)
{
	exercise(12);
	return 0; /* TC_ACT_OK */
}

SEC("tc")
int t_sched_cls(struct __sk_buff *skb)
{
	exercise(13);
	return 0; /* TC_ACT_OK */
}

SEC("sk_lookup")
int t_sk_lookup(struct bpf_sk_lookup *ctx)
{
	exercise(14);
	return SK_PASS;
}

SEC("sk_msg")
int t_sk_msg(struct sk_msg_md *msg)
{
	exercise(15);
	return SK_PASS;
}

SEC("sk_reuseport")
int t_sk_reuseport(struct sk_reuseport_md *md)
{
	exercise(16);
	return SK_PASS;
}

SEC("sk_skb/stream_verdict")
int t_sk_skb(struct __sk_buff *skb)
{
	exercise(17);
	return SK_PASS;
}

SEC("socket")
int t_socket_filter(struct __sk_buff *skb)
{
	exercise(18);
	return 0;
}

SEC("sockops")
int t_sock_ops(struct bpf_sock_ops *ops)
{
	exercise(19);
	return 1;
}

SEC("syscall")
int t_syscall(void *ctx)
{
	exercise(20);
	return 0;
}

SEC("fentry/bpf_fentry_test1")
int t_tracing(unsigned long long *ctx)
{
	exercise(21);
	return 0;
}

SEC("xdp")
int t_xdp(struct xdp_md *ctx)
{
	exercise(22);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
