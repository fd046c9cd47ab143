/* Several programs of different types in one object, sharing one map: each
 * counts its runs in its own slot of `hits`. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 5);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void hit(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&hits, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("cgroup_skb/ingress")
int count_ingress(struct __sk_buff *skb)
{
	hit(0);
	return 1;
}

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	hit(1);
	return 1;
}

SEC("socket")
int count_socket(struct __sk_buff *skb)
{
	hit(2);
	return 0;
}

SEC("tc")
int count_tc(struct __sk_buff *skb)
{
	hit(3);
	return 0; /* TC_ACT_OK */
}

SEC("xdp")
int count_xdp(struct xdp_md *ctx)
{
	hit(4);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
