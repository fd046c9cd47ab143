/* A __hidden global subprogram, as libbpf's headers and usdt.bpf.h write
 * their helpers (bpf_usdt_arg): global in C, but hidden from the linker.
 *
 * libbpf marks such a function static in its BTF FUNC before BPF_BTF_LOAD,
 * so the verifier checks it in its caller's context. Checked on its own, as
 * a global function, its pointer argument could be NULL and the verifier
 * rejects `*p` ("R1 invalid mem access 'mem_or_null'"); checked with its
 * caller it is the caller's stack slot.
 *
 * BPF_PROG_TEST_RUN of call_hidden (tc) stores add_one(41) = 42 in
 * `result` and returns 0. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define __hidden __attribute__((visibility("hidden")))

__u32 result;

__hidden __noinline int add_one(int *p)
{
	return *p + 1;
}

SEC("tc")
int call_hidden(struct __sk_buff *skb)
{
	int x = skb->len > 0 ? 41 : 40;

	result = add_one(&x);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
