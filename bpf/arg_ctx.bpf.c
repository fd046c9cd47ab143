/* A global function whose argument is tagged `__arg_ctx` (a BTF DECL_TAG
 * "arg:ctx" on the FUNC, component_idx 0), as the selftests' dynptr and
 * verifier_global_subprogs programs write them: declared `void *`, it is
 * the program's context. The kernel reads the tag from the object's BTF
 * (btf_prepare_func_args, 6.8 on); without it a `void *` argument of a
 * global function is memory of unknown size, which the verifier refuses.
 *
 * BPF_PROG_TEST_RUN of pass_ctx (tc) stores skb->len, read in the global
 * function through its context argument, in `seen_len`. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define __arg_ctx __attribute__((btf_decl_tag("arg:ctx")))

__u32 seen_len;

__noinline int packet_len(void *ctx __arg_ctx)
{
	struct __sk_buff *skb = ctx;

	return skb->len;
}

SEC("tc")
int pass_ctx(struct __sk_buff *skb)
{
	seen_len = packet_len(skb);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
