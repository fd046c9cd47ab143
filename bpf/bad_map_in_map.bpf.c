/* A map of maps whose static initialiser writes slot 3 of a 2-slot outer
 * map: clang accepts it (`values` is a flexible array), the loader must
 * refuse it by name before any map is created. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} too_small SEC(".maps") = {
	.values = { [3] = &inner_a },
};

SEC("tc")
int prog(struct __sk_buff *skb)
{
	return 0;
}

char _license[] SEC("license") = "GPL";
