/* Not a program to run: instructions for the disassembler's golden test.
 * Built with -mcpu=v3 (bpf/Makefile): 32-bit ALU and JMP32 compares, and
 * every atomic operation clang 14 emits. The cpu v4 instructions (sdiv,
 * smod, movsx, ldsx, bswap, gotol) need clang 18 and are covered by the
 * asm crate's unit tests instead. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 total;
__u32 small;
__u64 ret64;
__u32 ret32;

SEC("cgroup_skb/egress")
int atomics(struct __sk_buff *skb)
{
	__u64 v = skb->len;
	__u32 w = skb->len;

	__sync_fetch_and_add(&total, v);          /* lock *(u64 *) += */
	__sync_fetch_and_add(&small, w);          /* lock *(u32 *) += */
	ret64 = __sync_fetch_and_add(&total, 2);  /* atomic_fetch_add */
	ret32 = __sync_fetch_and_add(&small, 3);
	ret64 += __sync_fetch_and_or(&total, v);
	ret64 += __sync_fetch_and_and(&total, v);
	ret64 += __sync_fetch_and_xor(&total, v);
	ret32 += __sync_fetch_and_or(&small, w);
	ret32 += __sync_fetch_and_and(&small, w);
	ret32 += __sync_fetch_and_xor(&small, w);
	__sync_fetch_and_or(&total, 8);
	__sync_fetch_and_and(&small, 9);
	__sync_fetch_and_xor(&small, 10);
	ret64 += __sync_lock_test_and_set(&total, v); /* xchg */
	ret32 += __sync_lock_test_and_set(&small, w);
	ret64 += __sync_val_compare_and_swap(&total, v, 5); /* cmpxchg */
	ret32 += __sync_val_compare_and_swap(&small, w, 6);
	return 1;
}

SEC("cgroup_skb/ingress")
int alu32_jmp32(struct __sk_buff *skb)
{
	__u32 a = skb->len, b = skb->protocol, c = skb->mark;
	__s32 s = (__s32)skb->priority;

	if (a > 1500)
		return 0;
	if (b == 0x86dd || b < c)
		a += b;
	if (s < -3 || s >= 100)
		a ^= c;
	a = (a << 3) | (b >> 2);
	a = a * 7 - c / 3 + c % 5;
	s >>= 2;
	a &= ~c;
	a = -a;
	c = __builtin_bswap32(c) + __builtin_bswap16((__u16)b);
	__u64 big = ((__u64)skb->hash << 32) | skb->ifindex;
	big = __builtin_bswap64(big);
	if ((__s64)big > 0x7fffffff)
		a += 1;
	if (a & 0x10)
		return (int)(a + c + s) & 1;
	return (int)(big & 1);
}

char _license[] SEC("license") = "GPL";
