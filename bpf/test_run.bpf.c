/* Test runs that hand back more than they were given (tests/test_run.rs):
 * what BPF_PROG_TEST_RUN writes must come back whole, into buffers the
 * library sized.
 *
 *   xdp_grow        XDP: the frame gains 4 bytes in front (0xa1 each) and
 *                   16 at the end (0xb2 each)
 *   skb_grow        tc: the packet gains 5000 bytes (more than a page), the
 *                   last one 0xc3; the context's mark becomes 0x5eed and
 *                   cb[0] the number of runs so far
 *   syscall_double  syscall: the context { in, out } gets out = 2 * in,
 *                   written back over the context itself
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define SKB_GROWTH 5000

__u32 runs;

SEC("xdp")
int xdp_grow(struct xdp_md *ctx)
{
	__u8 tail[16];
	__u8 *data, *end;
	__u64 len;

	if (bpf_xdp_adjust_head(ctx, -4) || bpf_xdp_adjust_tail(ctx, 16))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + 4 > end)
		return XDP_ABORTED;
	__builtin_memset(data, 0xa1, 4);
	__builtin_memset(tail, 0xb2, sizeof(tail));
	len = bpf_xdp_get_buff_len(ctx);
	if (len < sizeof(tail) || bpf_xdp_store_bytes(ctx, len - sizeof(tail), tail, sizeof(tail)))
		return XDP_ABORTED;
	return XDP_PASS;
}

SEC("tc")
int skb_grow(struct __sk_buff *skb)
{
	__u8 last = 0xc3;
	__u32 len = skb->len + SKB_GROWTH;

	runs++;
	if (bpf_skb_change_tail(skb, len, 0) || bpf_skb_store_bytes(skb, len - 1, &last, 1, 0))
		return TC_ACT_SHOT;
	skb->mark = 0x5eed;
	skb->cb[0] = runs;
	return TC_ACT_OK;
}

struct args {
	__u64 in;
	__u64 out;
};

SEC("syscall")
int syscall_double(struct args *ctx)
{
	ctx->out = 2 * ctx->in;
	return 0;
}

char _license[] SEC("license") = "GPL";
