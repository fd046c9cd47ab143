/* A CO-RE cgroup program for the benchmark: on every egress packet it records
 * the pid of the sending task. `struct task_struct` below is a local shadow
 * of the kernel's: with preserve_access_index clang does not bake in the
 * offset of `tgid` but emits a CO-RE relocation (.BTF.ext core_relo) that the
 * loader resolves against the running kernel's BTF (/sys/kernel/btf/vmlinux).
 * That lookup is what makes a CO-RE object expensive to load. Returns 1: the
 * packet passes. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct task_struct {
	int tgid;
} __attribute__((preserve_access_index));

static __u64 (* const bpf_get_current_task)(void) = (void *) 35;
static long (* const bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *) 113;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, int);
} last_tgid SEC(".maps");

SEC("cgroup_skb/egress")
int core_egress(struct __sk_buff *skb)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	int key = 0, tgid = 0;

	bpf_probe_read_kernel(&tgid, sizeof(tgid), &task->tgid);
	bpf_map_update_elem(&last_tgid, &key, &tgid, BPF_ANY);
	return 1;
}

char _license[] SEC("license") = "GPL";
