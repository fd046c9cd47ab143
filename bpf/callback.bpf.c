/* Callbacks: bpf_loop and bpf_for_each_map_elem take static functions, which
 * the loader must turn into BPF_PSEUDO_FUNC loads. The results land in .bss,
 * where a test reads them after one BPF_PROG_TEST_RUN:
 *   loop_sum  = 0 + 1 + ... + 9 = 45
 *   elem_sum  = 1 + 2 + 3 + 4 = 10 (the program stores i + 1 in slot i first)
 *   runs      = number of runs */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} numbers SEC(".maps");

__u64 loop_sum;
__u64 elem_sum;
__u64 runs;

static long add_index(__u32 index, void *ctx)
{
	*(__u64 *)ctx += index;
	return 0;
}

static long add_value(void *map, __u32 *key, __u64 *value, void *ctx)
{
	*(__u64 *)ctx += *value;
	return 0;
}

SEC("cgroup_skb/egress")
int sum_with_callbacks(struct __sk_buff *skb)
{
	__u64 sum = 0;
	__u32 i;
	__u64 v;

	bpf_loop(10, add_index, &sum, 0);
	loop_sum = sum;

	/* Unrolled by hand: a loop whose counter goes through the stack to a
	 * helper is unbounded to the verifier. */
#define FILL(k) i = k; v = k + 1; bpf_map_update_elem(&numbers, &i, &v, BPF_ANY)
	FILL(0);
	FILL(1);
	FILL(2);
	FILL(3);
	sum = 0;
	bpf_for_each_map_elem(&numbers, add_value, &sum, 0);
	elem_sum = sum;
	runs++;
	return 1;
}

char _license[] SEC("license") = "GPL";
