/* Per-CPU maps: each BPF_PROG_TEST_RUN of count_per_cpu adds 1 to the
 * running CPU's value of key 0 in `counts` (a PERCPU_ARRAY of __u32: one
 * 4-byte value per CPU, which user space sees 8 bytes apart, as
 * bpf_percpu_array_copy rounds each up) and of key 7 in `per_key` (a
 * PERCPU_HASH of __u64; the first run creates the element, with this CPU's
 * value 1 and every other CPU's 0).
 *
 * tests/maps.rs runs it pinned to one CPU after another, a different number
 * of times on each, and reads both maps back with Map::lookup_percpu. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} per_key SEC(".maps");

SEC("tc")
int count_per_cpu(struct __sk_buff *skb)
{
	__u32 zero = 0, seven = 7;
	__u64 one = 1;
	__u32 *n;
	__u64 *m;

	n = bpf_map_lookup_elem(&counts, &zero);
	if (n)
		*n += 1;
	m = bpf_map_lookup_elem(&per_key, &seven);
	if (m)
		*m += 1;
	else
		bpf_map_update_elem(&per_key, &seven, &one, BPF_NOEXIST);
	return 0;
}

char _license[] SEC("license") = "GPL";
