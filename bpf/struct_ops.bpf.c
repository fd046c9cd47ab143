/* A TCP congestion control as a struct_ops map: SEC(".struct_ops") holds
 * a struct tcp_congestion_ops whose function members are programs of
 * SEC("struct_ops/..."). libbpf builds the kernel's ops struct from them
 * and registering it makes "rawbpf_cc" a congestion control every socket
 * of the system may pick. rawbpf refuses the object before any system
 * call, naming the map (see "What rawbpf loads" in README.md).
 *
 * The struct is the part of the kernel's that the map sets; libbpf
 * matches members by name against the kernel's BTF. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct sock;

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
};

/* Each program gets the hook's arguments as an array of u64 (BPF_PROG). */
SEC("struct_ops/rawbpf_ssthresh")
__u32 rawbpf_ssthresh(unsigned long long *ctx)
{
	return 10;
}

SEC("struct_ops/rawbpf_cong_avoid")
void rawbpf_cong_avoid(unsigned long long *ctx)
{
}

SEC("struct_ops/rawbpf_undo_cwnd")
__u32 rawbpf_undo_cwnd(unsigned long long *ctx)
{
	return 10;
}

SEC(".struct_ops")
struct tcp_congestion_ops rawbpf_cc = {
	.ssthresh = (void *)rawbpf_ssthresh,
	.cong_avoid = (void *)rawbpf_cong_avoid,
	.undo_cwnd = (void *)rawbpf_undo_cwnd,
	.name = "rawbpf_cc",
};

char LICENSE[] SEC("license") = "GPL";
