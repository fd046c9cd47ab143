/* Broken on purpose: the seed program with a global (non-static) timer
 * callback. The verifier only accepts static functions as callbacks, so the
 * load must fail and rawbpf must show the verifier's words. */
#include <linux/bpf.h>
#include <time.h>
#include <bpf/bpf_helpers.h>

struct elem {
	struct bpf_timer t;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct elem);
} hmap SEC(".maps");

__noinline int timer_callback(void *map, int *key, struct bpf_timer *timer)
{
	return 0;
}

SEC("cgroup_skb/egress")
int bpf_prog1(void *ctx)
{
	int key = 0;
	struct elem *ele = bpf_map_lookup_elem(&hmap, &key);

	if (!ele)
		return 1;
	bpf_timer_init(&ele->t, &hmap, CLOCK_MONOTONIC);
	bpf_timer_set_callback(&ele->t, timer_callback);
	return 1;
}

char _license[] SEC("license") = "GPL";
