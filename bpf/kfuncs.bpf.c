/* Two kfuncs of the kernel's conntrack, as the selftests' test_bpf_nf.c
 * calls them: a lookup that acquires a reference and its release. Both are
 * FUNCs of the kernel's BTF (vmlinux where nf_conntrack is built in, else
 * the module's); each call becomes BPF_PSEUDO_KFUNC_CALL with its own id.
 *
 * BPF_PROG_TEST_RUN of ct_lookup (tc) looks up an all-zero TCP tuple, which
 * no connection has: `lookup_error` gets opts.error (-ENOENT, -2) and
 * `found` stays 0. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define IPPROTO_TCP 6
/* BPF_F_CURRENT_NETNS: the netns of the packet's device. */
#define CURRENT_NETNS -1

/* The 12-byte form every kernel with these kfuncs accepts (5.18 on). */
struct bpf_ct_opts___local {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u8 reserved[2];
};

/* A definition, not a declaration: libbpf checks an extern kfunc's
 * prototype against the kernel's, and a forward declaration is not
 * compatible with the kernel's struct (the members do not matter). */
struct nf_conn {
	int unused;
};

extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *skb, struct bpf_sock_tuple *tuple,
					 __u32 tuple__sz, struct bpf_ct_opts___local *opts,
					 __u32 opts__sz) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;

__s32 lookup_error = 1;
__u32 found;

SEC("tc")
int ct_lookup(struct __sk_buff *skb)
{
	struct bpf_ct_opts___local opts = { .netns_id = CURRENT_NETNS, .l4proto = IPPROTO_TCP };
	struct bpf_sock_tuple tuple = {};
	struct nf_conn *ct;

	ct = bpf_skb_ct_lookup(skb, &tuple, sizeof(tuple.ipv4), &opts, sizeof(opts));
	if (ct) {
		found = 1;
		bpf_ct_release(ct);
	}
	lookup_error = opts.error;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
