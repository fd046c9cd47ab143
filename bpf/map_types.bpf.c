/* One map of each type whose kernel side refuses BTF key/value ids
 * (map_check_no_btf): written as libbpf users write them, with key and value
 * types, which the loader must turn into sizes only. Plus a PERF_EVENT_ARRAY
 * without max_entries (one slot per possible CPU) and a bloom filter with
 * map_extra (its number of hash functions). The program only exists because
 * an object needs one. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAP(name, map_type, k, v, n)          \
	struct {                              \
		__uint(type, map_type);       \
		__uint(max_entries, n);       \
		__type(key, k);               \
		__type(value, v);             \
	} name SEC(".maps")

MAP(sock_map, BPF_MAP_TYPE_SOCKMAP, __u32, __u32, 2);
MAP(sock_hash, BPF_MAP_TYPE_SOCKHASH, __u32, __u32, 2);
MAP(dev_map, BPF_MAP_TYPE_DEVMAP, __u32, __u32, 2);
MAP(dev_map_hash, BPF_MAP_TYPE_DEVMAP_HASH, __u32, __u32, 2);
MAP(cpu_map, BPF_MAP_TYPE_CPUMAP, __u32, __u32, 2);
MAP(xsk_map, BPF_MAP_TYPE_XSKMAP, __u32, __u32, 2);
MAP(reuseport_array, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, __u32, __u32, 2);
MAP(cgroup_array, BPF_MAP_TYPE_CGROUP_ARRAY, __u32, __u32, 2);
MAP(stack_traces, BPF_MAP_TYPE_STACK_TRACE, __u32, __u64[16], 2);
MAP(prog_array, BPF_MAP_TYPE_PROG_ARRAY, __u32, __u32, 2);

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__type(key, int);
	__type(value, int);
} perf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__type(value, __u32);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 4);
	__type(value, __u32);
} stack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 16);
	__uint(map_extra, 3);
	__type(value, __u32);
} bloom SEC(".maps");

SEC("xdp")
int pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
