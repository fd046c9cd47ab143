/* Global data: each of .rodata, .data, .bss and .rodata.str1.1 becomes a
 * one-entry ARRAY map (.rodata and .rodata.str1.1 frozen), and every access
 * is an ld_imm64 the loader turns into a BPF_PSEUDO_MAP_VALUE load.
 *
 * After N BPF_PROG_TEST_RUNs of count_packets (each returns 1), .bss holds:
 *   counter   = N
 *   last      = 42 (the .rodata constant 7 plus the .data initial value 35)
 *   name_char = "rawbpf"[N & 3]: 'a' after 1 run, 'w' after 2, 'b' after 3,
 *               'r' after 4 (the string literal is in .rodata.str1.1; the
 *               variable index keeps clang from folding it away, and the
 *               mask bounds it for the verifier)
 * .data (thirty_five = 35) and .rodata (seven = 7) never change. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 seven = 7;   /* .rodata: frozen, constant to the verifier */
__u32 thirty_five = 35;           /* .data: initialised */
__u64 counter;                    /* .bss: zero-initialised */
__u64 last;                       /* .bss */
char name_char;                   /* .bss */

SEC("cgroup_skb/egress")
int count_packets(struct __sk_buff *skb)
{
	const char *name = "rawbpf"; /* .rodata.str1.1 */

	counter++;
	last = seven + thirty_five;
	name_char = name[counter & 3];
	return 1;
}

char _license[] SEC("license") = "GPL";
