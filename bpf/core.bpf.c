/* CO-RE: one object, compiled once, whose numbers the loader fits to the
 * kernel it runs on. Every value below is computed by a clang built-in that
 * also records a CO-RE relocation; the program stores the relocated values
 * in .bss, and tests/core.rs compares them with the kernel's own BTF.
 *
 * The struct declarations are ours and deliberately incomplete and out of
 * order: `preserve_access_index` makes every access to them relocatable, and
 * the loader finds each field again by name in the kernel's struct. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define __core __attribute__((preserve_access_index))

/* The kernel's struct sk_buff, three fields of it, in another order than the
 * kernel's; the bitfield `pkt_type` (3 bits in the kernel). */
struct sk_buff {
	int skb_iif;
	unsigned int len;
	unsigned char pkt_type : 3;
	unsigned int data_len;
} __core;

/* A flavour: "___mine" is ignored when looking for the kernel's type, so this
 * is struct sk_buff again, with its fields in yet another order. */
struct sk_buff___mine {
	unsigned int data_len;
	unsigned int len;
} __core;

/* A flavour with a field no kernel has. */
struct sk_buff___old {
	int rawbpf_no_such_field;
} __core;

/* A flavour of the context, read for real: the kernel's __sk_buff has `len`
 * at offset 0 and `mark` (a __u32) at 8. Here `len` sits at 4 and `mark` is
 * declared 64 bits wide at 8: the loader moves the first load to offset 0 and
 * narrows the second to 32 bits. */
struct __sk_buff___mine {
	__u32 protocol;
	__u32 len;
	__u64 mark;
	__u32 rawbpf_no_such_field;
} __core;

/* A type no kernel has. */
struct rawbpf_no_such_type {
	int x;
};

/* A kernel enum whose values differ between kernels; ours are made up. */
enum skb_drop_reason {
	SKB_DROP_REASON_NOT_SPECIFIED = 1000,
	SKB_DROP_REASON_NO_SOCKET = 1001,
	RAWBPF_NO_SUCH_REASON = 1002,
};

/* What not_specified and no_socket hold on a kernel without the enum. */
#define NO_ENUM_VALUE 0xffffffffffffffffULL

__u64 len_off, len_off_mine, len_size, data_len_off_mine;
__u64 len_exists, no_field_exists, iif_signed, len_signed;
__u64 pkt_type_off, pkt_type_size, pkt_type_lshift, pkt_type_rshift;
__u64 skb_size, skb_exists, no_type_exists, skb_local_id, skb_kernel_id;
__u64 not_specified, no_socket, no_reason_exists, not_specified_exists;
__u64 ctx_len, ctx_len_mine, ctx_mark_mine, ctx_unreached;

SEC("cgroup_skb/egress")
int core_skb(struct __sk_buff *skb)
{
	struct __sk_buff___mine *mine = (void *)skb;

	len_off = bpf_core_field_offset(struct sk_buff, len);
	len_off_mine = bpf_core_field_offset(struct sk_buff___mine, len);
	data_len_off_mine = bpf_core_field_offset(struct sk_buff___mine, data_len);
	len_size = bpf_core_field_size(struct sk_buff, len);
	len_exists = bpf_core_field_exists(struct sk_buff, len);
	no_field_exists = bpf_core_field_exists(struct sk_buff___old, rawbpf_no_such_field);
	iif_signed = bpf_core_field_signed(struct sk_buff, skb_iif);
	len_signed = bpf_core_field_signed(struct sk_buff, len);

	pkt_type_off = bpf_core_field_offset(struct sk_buff, pkt_type);
	pkt_type_size = bpf_core_field_size(struct sk_buff, pkt_type);
	pkt_type_lshift = bpf_core_field_lshift(struct sk_buff, pkt_type);
	pkt_type_rshift = bpf_core_field_rshift(struct sk_buff, pkt_type);

	skb_size = bpf_core_type_size(struct sk_buff);
	skb_exists = bpf_core_type_exists(struct sk_buff);
	no_type_exists = bpf_core_type_exists(struct rawbpf_no_such_type);
	skb_local_id = bpf_core_type_id_local(struct sk_buff);
	skb_kernel_id = bpf_core_type_id_kernel(struct sk_buff);

	/* enum skb_drop_reason came in Linux 5.17: on older kernels its value
	 * relocations are poisoned, so they sit behind existence checks (dead
	 * code there, which the verifier never looks at), as CO-RE programs do. */
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED))
		not_specified =
			bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED);
	else
		not_specified = NO_ENUM_VALUE;
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_NO_SOCKET))
		no_socket = bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NO_SOCKET);
	else
		no_socket = NO_ENUM_VALUE;
	not_specified_exists =
		bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED);
	no_reason_exists = bpf_core_enum_value_exists(enum skb_drop_reason, RAWBPF_NO_SUCH_REASON);

	/* Real loads from the context, through the relocated flavour. */
	ctx_len = skb->len;
	ctx_len_mine = mine->len;
	ctx_mark_mine = mine->mark;
	/* The field does not exist, so its load is poisoned; the check makes
	 * it dead code, which the verifier never looks at. */
	if (bpf_core_field_exists(mine->rawbpf_no_such_field))
		ctx_unreached = mine->rawbpf_no_such_field;
	else
		ctx_unreached = 7;
	return 1;
}

char _license[] SEC("license") = "GPL";
