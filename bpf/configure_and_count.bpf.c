/* A tool's program as a user of the library writes it: its configuration
 * is a const volatile global (`step`, set before load), its result a
 * per-CPU counter (each BPF_PROG_TEST_RUN adds `step` to the running CPU's
 * value of key 0). examples/configure_and_count.rs loads it with step set
 * to 5, runs it, and reads one value per possible CPU. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 step = 1;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

SEC("tc")
int count(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&hits, &zero);

	if (n)
		*n += step;
	return 0;
}

char _license[] SEC("license") = "GPL";
