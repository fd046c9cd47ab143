/* A non-weak __kconfig extern no kernel has: loading must fail with an error
 * that names CONFIG_RAWBPF_MISSING. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int CONFIG_RAWBPF_MISSING __kconfig;

__s32 seen;

SEC("syscall")
int missing_kconfig(void *ctx)
{
	seen = CONFIG_RAWBPF_MISSING;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
