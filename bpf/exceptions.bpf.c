/* An exception callback, as the selftests' exceptions.c has them: the
 * program throws with bpf_throw() (a kfunc since 6.7), and the kernel
 * unwinds to the callback its BTF names, a DECL_TAG
 * "exception_callback:exception_cb" on the program's FUNC
 * (bpf_find_exception_callback_insn_off in kernel/bpf/verifier.c).
 * Nothing calls the callback, so the loader must append it to the
 * program itself, with its func_info.
 *
 * BPF_PROG_TEST_RUN of throwing (tc, a packet of more than 10 bytes)
 * throws 7, and the run returns what the callback makes of it: 107. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define __exception_cb(name) __attribute__((btf_decl_tag("exception_callback:" #name)))

extern void bpf_throw(__u64 cookie) __ksym;

/* Global and not hidden: the kernel wants the callback's linkage global. */
__noinline int exception_cb(__u64 cookie)
{
	return cookie + 100;
}

SEC("tc")
__exception_cb(exception_cb)
int throwing(struct __sk_buff *skb)
{
	if (skb->len > 10)
		bpf_throw(7);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
