/* A map pinned by name, as libbpf's LIBBPF_PIN_BY_NAME asks: `rawbpf run
 * --pin DIR` reuses DIR/shared_counts when a compatible map is pinned there
 * and pins its own there otherwise. The program counts egress packets in it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* libbpf's enum libbpf_pin_type */
#define LIBBPF_PIN_BY_NAME 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_counts SEC(".maps");

SEC("cgroup_skb/egress")
int count_shared(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&shared_counts, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 1;
}

char _license[] SEC("license") = "GPL";
