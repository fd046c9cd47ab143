/* Subprograms: two programs share static and global functions in .text, and
 * one subprogram calls another, so the loader must append each one once per
 * program and patch every bpf-to-bpf call (and move func_info with it).
 * BPF_PROG_TEST_RUN of either program returns 1. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __noinline int add(int a, int b)
{
	return a + b;
}

/* Nested: calls add(). */
static __noinline int twice_plus(int x, int y)
{
	return add(add(x, x), y);
}

/* A global function: verified on its own, with its BTF prototype. */
__noinline int clamp_to_one(int v)
{
	return v > 0 ? 1 : 0;
}

SEC("cgroup_skb/egress")
int egress_via_subprogs(struct __sk_buff *skb)
{
	/* twice_plus(0, 1) = 1, clamp_to_one(1) = 1: allow. A global function
	 * may return anything as far as the verifier knows, so test it. */
	return clamp_to_one(twice_plus(skb->len > 0 ? 0 : 5, 1)) ? 1 : 0;
}

SEC("cgroup_skb/ingress")
int ingress_via_subprogs(struct __sk_buff *skb)
{
	return clamp_to_one(add(skb->len > 0 ? 1 : 0, 0)) ? 1 : 0;
}

char _license[] SEC("license") = "GPL";
