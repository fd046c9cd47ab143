/* A non-weak typeless __ksym no kernel has: loading must fail with an error
 * that names rawbpf_no_such_symbol. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern const void rawbpf_no_such_symbol __ksym;

__u64 seen;

SEC("syscall")
int missing_ksym(void *ctx)
{
	seen = (__u64)&rawbpf_no_such_symbol;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
