/* Broken on purpose: uses the result of bpf_map_lookup_elem() without
 * checking it for NULL. A HASH map, because the verifier knows an ARRAY lookup
 * with a constant in-range key cannot fail. clang compiles it; the verifier rejects it
 * ("invalid mem access 'map_value_or_null'"). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("cgroup_skb/egress")
int unchecked_lookup(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&counts, &key);

	*n += 1;
	return 1;
}

char _license[] SEC("license") = "GPL";
