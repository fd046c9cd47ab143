/* Programs whose verification depends on what the section name says: each
 * reads or writes a context field the verifier allows only with the right
 * expected attach type, so a wrong table entry makes the load fail.
 *
 *   xdp/devmap          ctx->egress_ifindex      only BPF_XDP_DEVMAP
 *   cgroup/sendmsg4     ctx->msg_src_ip4 (write) only BPF_CGROUP_UDP4_SENDMSG
 *   sk_reuseport/migrate ctx->migrating_sk       only ..._SELECT_OR_MIGRATE
 *   cgroup/getsockname4 return 1                 the only value allowed there
 *   tcx/ingress, sk_skb/verdict, cgroup/sock_release: load with their
 *   attach types (SCHED_CLS, SK_SKB, CGROUP_SOCK). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp/devmap")
int on_devmap(struct xdp_md *ctx)
{
	return ctx->egress_ifindex ? XDP_PASS : XDP_DROP;
}

SEC("cgroup/sendmsg4")
int on_sendmsg4(struct bpf_sock_addr *ctx)
{
	ctx->msg_src_ip4 = 0;
	return 1;
}

SEC("sk_reuseport/migrate")
int on_migrate(struct sk_reuseport_md *ctx)
{
	return ctx->migrating_sk ? SK_DROP : SK_PASS;
}

SEC("cgroup/getsockname4")
int on_getsockname4(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("tcx/ingress")
int on_tcx_ingress(struct __sk_buff *skb)
{
	return 0;
}

SEC("sk_skb/verdict")
int on_verdict(struct __sk_buff *skb)
{
	return SK_PASS;
}

SEC("cgroup/sock_release")
int on_release(struct bpf_sock *sk)
{
	return 1;
}

char _license[] SEC("license") = "GPL";
