/* Global data: each of .rodata, .data and .bss becomes a one-entry ARRAY map.
 * After N runs a test sees in .bss: counter = N, last = 7 + 35 = 42 (the
 * .rodata constant plus the .data initial value). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 seven = 7;   /* .rodata: frozen, constant to the verifier */
__u32 thirty_five = 35;           /* .data: initialised */
__u64 counter;                    /* .bss: zero-initialised */
__u64 last;                       /* .bss */

SEC("cgroup_skb/egress")
int count_packets(struct __sk_buff *skb)
{
	counter++;
	last = seven + thirty_five;
	return 1;
}

char _license[] SEC("license") = "GPL";
