/* The seed's shape without bpf_timer, for kernels before 5.15 (Debian
 * bullseye's 5.10), which have no bpf_timer helpers: a cgroup_skb/egress
 * program named bpf_prog1 that drops every packet, and an ARRAY map named
 * hmap in which it counts them. Tests that attach, pin and detach use it
 * there in place of the seed. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, __u64);
} hmap SEC(".maps");

SEC("cgroup_skb/egress")
int bpf_prog1(struct __sk_buff *skb)
{
	int key = 0;
	__u64 *drops = bpf_map_lookup_elem(&hmap, &key);

	if (drops)
		__sync_fetch_and_add(drops, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
