/* No program at all: only maps, as a library or a pinned-map setup object
 * has them. libbpf creates them; so must a loader.
 *
 * - events: a ring buffer of 1000 bytes, which the kernel refuses
 *   (ringbuf_map_alloc wants a power-of-2 multiple of the page size):
 *   libbpf rounds it up to 4096 on 4 KB pages, and so does rawbpf.
 * - inner: an ARRAY of one __u32.
 * - outer: an ARRAY_OF_MAPS whose value type is spelled out as the inner
 *   map's fd, an int, beside __array(values, ...); slot 0 holds inner.
 * - config: a global in .data, so the object has a data map too. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1000);
} events SEC(".maps");

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, int);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = { [0] = &inner },
};

__u32 config = 7;

char LICENSE[] SEC("license") = "GPL";
