/* Externs: values the loader fills in from the running kernel.
 *
 * One BPF_PROG_TEST_RUN of read_externs (ctx: struct args) fills .bss:
 *   version      = LINUX_KERNEL_VERSION, KERNEL_VERSION(a, b, c) of uname -r
 *   has_cookie   = LINUX_HAS_BPF_COOKIE (1 from 5.15 on)
 *   syscall_wrapper = LINUX_HAS_SYSCALL_WRAPPER (1 if kallsyms has the
 *                  arch's wrapper of sys_bpf, __x64_sys_bpf on x86-64)
 *   bpf_syscall  = CONFIG_BPF_SYSCALL (bool, y everywhere BPF runs)
 *   conntrack    = CONFIG_NF_CONNTRACK (tristate: 0 n, 1 y, 2 m)
 *   hz           = CONFIG_HZ (int)
 *   hostname     = CONFIG_DEFAULT_HOSTNAME (string, "(none)" usually)
 *   not_an_option = CONFIG_RAWBPF_NOT_AN_OPTION (weak and missing: 0)
 *   prog_put     = &bpf_prog_put (a typeless ksym: its /proc/kallsyms address)
 *   dynptr_size  = bpf_dynptr_size() of a 17-byte dynptr (a kfunc since 6.5),
 *                  or 0 where the kernel lacks it (weak: the call is
 *                  poisoned and never reached; where it exists,
 *                  bpf_ksym_exists() loads its address by BTF id)
 * The typed ksym variable is in ksym_typed.bpf.c: the kernel finds its address
 * only with CONFIG_KALLSYMS_ALL.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_BPF_COOKIE __kconfig;
extern bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_NF_CONNTRACK __kconfig __weak;
extern int CONFIG_HZ __kconfig;
extern char CONFIG_DEFAULT_HOSTNAME[16] __kconfig __weak;
extern int CONFIG_RAWBPF_NOT_AN_OPTION __kconfig __weak;

extern const void bpf_prog_put __ksym;
extern __u32 bpf_dynptr_size(const struct bpf_dynptr *p) __ksym __weak;

__u32 version;
__u32 has_cookie;
__u32 syscall_wrapper;
__u32 bpf_syscall;
__u32 conntrack;
__s32 hz;
char hostname[16];
__s32 not_an_option;
__u64 prog_put;
__u32 dynptr_size;
char buf[17]; /* dynptrs over memory want a map value, not the stack */

SEC("syscall")
int read_externs(void *ctx)
{
	struct bpf_dynptr dp;

	version = LINUX_KERNEL_VERSION;
	has_cookie = LINUX_HAS_BPF_COOKIE;
	syscall_wrapper = LINUX_HAS_SYSCALL_WRAPPER;
	bpf_syscall = CONFIG_BPF_SYSCALL;
	conntrack = CONFIG_NF_CONNTRACK;
	hz = CONFIG_HZ;
	__builtin_memcpy(hostname, CONFIG_DEFAULT_HOSTNAME, sizeof(hostname));
	not_an_option = CONFIG_RAWBPF_NOT_AN_OPTION;

	prog_put = (__u64)&bpf_prog_put;

	if (bpf_ksym_exists(bpf_dynptr_size)) {
		bpf_dynptr_from_mem(buf, sizeof(buf), 0, &dp);
		dynptr_size = bpf_dynptr_size(&dp);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
