/* Too complex on purpose: a bounded loop the verifier must walk iteration by
 * iteration (the counter differs each time, so no state is pruned) until its
 * limit of one million instructions ("BPF program is too large"). That takes
 * the verifier about a second: rawbpf's tests use it to check that such a
 * program is verified at most twice and that a stop signal ends the
 * verification. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("cgroup_skb/egress")
int too_complex(struct __sk_buff *skb)
{
	__u32 x = skb->len;
	__u32 acc = 0;

	for (__u32 i = 0; i < 1000000; i++) {
		acc ^= x + i;
		x = x * 33 + (x >> 3);
	}
	return acc & 1;
}

char _license[] SEC("license") = "GPL";
