/* Maps of maps and a program array, initialised statically as libbpf allows:
 *
 * - inner_a, inner_b: ARRAYs of one __u32; the programs write 11 and 22 into
 *   them through the outer maps.
 * - outer_array (ARRAY_OF_MAPS): slot 0 = inner_a, slot 1 = inner_b.
 * - outer_hash (HASH_OF_MAPS): key 3 = inner_b, no other keys.
 * - jump_table (PROG_ARRAY): slot 1 = tail_target, slot 0 empty.
 *
 * tail_caller tail-calls slot 1 and so returns tail_target's 42; had the
 * slot been empty, it would fall through and return 1. not_by_default sits in
 * a "?tc" section: a loader loads it only when asked. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer_array SEC(".maps") = {
	.values = { [0] = &inner_a, [1] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer_hash SEC(".maps") = {
	.values = { [3] = &inner_b },
};

int tail_target(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int (void *));
} jump_table SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

static void put(void *outer, __u32 slot, __u32 value)
{
	__u32 zero = 0;
	void *inner = bpf_map_lookup_elem(outer, &slot);
	__u32 *v;

	if (!inner)
		return;
	v = bpf_map_lookup_elem(inner, &zero);
	if (v)
		*v = value;
}

SEC("tc")
int tail_caller(struct __sk_buff *skb)
{
	put(&outer_array, 0, 11);
	put(&outer_hash, 3, 22);
	bpf_tail_call(skb, &jump_table, 1);
	return 1;
}

SEC("tc")
int tail_target(struct __sk_buff *skb)
{
	return 42;
}

SEC("?tc")
int not_by_default(struct __sk_buff *skb)
{
	return 7;
}

char _license[] SEC("license") = "GPL";
