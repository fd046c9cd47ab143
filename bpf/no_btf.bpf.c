/* The seed's timer program, built WITHOUT -g: no .BTF, so the map must be a
 * legacy `struct bpf_map_def` in SEC("maps"). The kernel needs BTF to find
 * the bpf_timer in a map value, so loading must fail with an error that says
 * BTF is needed. */
#include <linux/bpf.h>
#include <time.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct elem {
	struct bpf_timer t;
};

struct bpf_map_def hmap SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(int),
	.value_size = sizeof(struct elem),
	.max_entries = 1,
};

static int timer_callback(void *map, int *key, struct bpf_timer *timer)
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
	bpf_timer_start(&ele->t, 0, 0);
	bpf_timer_cancel(&ele->t);
	return 0;
}

char _license[] SEC("license") = "GPL";
