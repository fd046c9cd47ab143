/* Only static functions in .text and a global: no program of its own (a
 * library object before linking). libbpf opens and loads it, creating its
 * .data map; so does rawbpf. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u32 counter = 3;

/* `used`: nothing calls it, and clang would drop it otherwise. */
static __noinline __attribute__((used)) int bump(int by)
{
	counter += by;
	return counter;
}

char LICENSE[] SEC("license") = "GPL";
