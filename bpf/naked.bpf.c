/* A naked function, as the selftests write their verifier tests in
 * assembly (uninit_stack.c and every verifier_*.c): clang gives its
 * prototype an unnamed parameter, and the kernel refuses an unnamed
 * parameter in any FUNC of the BTF it loads (btf_func_check: "Invalid
 * arg#1"). rawbpf names it; libbpf loads such an object without BTF.
 *
 * BPF_PROG_TEST_RUN of naked_prog (tc) returns 1. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
__attribute__((naked)) int naked_prog(void *ctx)
{
	asm volatile ("r0 = 1; exit;" ::: "memory");
}

char LICENSE[] SEC("license") = "GPL";
