/* A typed __ksym variable: the per-CPU `int cpu_number` of x86, in vmlinux
 * BTF on 6.1 and from 6.15 on (6.2 to 6.14 keep it in struct pcpu_hot, so it
 * is __weak here). The ld_imm64 carries the VAR's BTF id; the kernel finds
 * its address with kallsyms_lookup_name(), which sees variables only with
 * CONFIG_KALLSYMS_ALL.
 *
 * One BPF_PROG_TEST_RUN (ctx: struct args) sets cpu_number_seen to
 * 1 + cpu_number of CPU args.cpu, i.e. args.cpu + 1, or leaves it 0 where
 * the kernel has no such VAR. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern const int cpu_number __ksym __weak;

struct args {
	__u32 cpu;
};

__s32 cpu_number_seen;

SEC("syscall")
int read_cpu_number(struct args *args)
{
	if (bpf_ksym_exists(&cpu_number)) {
		const int *n = bpf_per_cpu_ptr(&cpu_number, args->cpu);

		if (n)
			cpu_number_seen = 1 + *n;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
