/* rawbpf's own minimal replacement for libbpf's bpf_helpers.h: just what the
 * programs in this directory use. Helper ids are the positions in
 * __BPF_FUNC_MAPPER of include/uapi/linux/bpf.h; the kernel calls helper N
 * when a program executes `call N`. */
#ifndef RAWBPF_BPF_HELPERS_H
#define RAWBPF_BPF_HELPERS_H

/* Self-contained: the helper prototypes below need only these. */
#include <linux/types.h>
struct bpf_timer;

/* Place a program, map or global in the ELF section the loader reads. */
#define SEC(name) __attribute__((section(name), used))

/* Map definitions in ".maps" are described to the loader by BTF only:
 * __uint(max_entries, 1) becomes a member `int (*max_entries)[1]`, and
 * __type(key, int) a member `int *key`. */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
/* For map-in-map and prog-array definitions: `__array(values, struct inner)`
 * is a member `struct inner *values[]`. */
#define __array(name, val) typeof(val) *name[]

#undef __always_inline
#define __always_inline inline __attribute__((always_inline))
#define __noinline __attribute__((noinline))
#define __weak __attribute__((weak))

/* Externs the loader fills in (see src/externs.rs): values of the running
 * kernel's configuration, and kernel symbols and functions. */
#define __kconfig __attribute__((section(".kconfig")))
#define __ksym __attribute__((section(".ksyms")))
/* Whether a __weak __ksym exists in the running kernel. */
#define bpf_ksym_exists(sym) (!!(sym))

/* The type a tristate CONFIG_ extern is declared with: n 0, y 1, m 2. */
enum libbpf_tristate {
	TRI_NO = 0,
	TRI_YES = 1,
	TRI_MODULE = 2,
};

static void *(* const bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;
static long (* const bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *) 2;
static long (* const bpf_map_delete_elem)(void *map, const void *key) = (void *) 3;
static __u64 (* const bpf_ktime_get_ns)(void) = (void *) 5;
/* Jumps to the program in slot `index` of PROG_ARRAY `prog_array_map`; returns
 * only if the slot is empty. */
static long (* const bpf_tail_call)(void *ctx, void *prog_array_map, __u32 index) = (void *) 12;
static long (* const bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *) 6;
static __u32 (* const bpf_get_smp_processor_id)(void) = (void *) 8;
static long (* const bpf_for_each_map_elem)(void *map, void *callback_fn, void *callback_ctx, __u64 flags) = (void *) 164;
static long (* const bpf_timer_init)(struct bpf_timer *timer, void *map, __u64 flags) = (void *) 169;
static long (* const bpf_timer_set_callback)(struct bpf_timer *timer, void *callback_fn) = (void *) 170;
static long (* const bpf_timer_start)(struct bpf_timer *timer, __u64 nsecs, __u64 flags) = (void *) 171;
static long (* const bpf_timer_cancel)(struct bpf_timer *timer) = (void *) 172;
static void *(* const bpf_per_cpu_ptr)(const void *percpu_ptr, __u32 cpu) = (void *) 153;
static void *(* const bpf_this_cpu_ptr)(const void *percpu_ptr) = (void *) 154;
struct bpf_dynptr;
static long (* const bpf_dynptr_from_mem)(void *data, __u32 size, __u64 flags, struct bpf_dynptr *ptr) = (void *) 197;
static long (* const bpf_loop)(__u32 nr_loops, void *callback_fn, void *callback_ctx, __u64 flags) = (void *) 181;
static long (* const bpf_skb_store_bytes)(void *skb, __u32 offset, const void *from, __u32 len, __u64 flags) = (void *) 9;
static long (* const bpf_skb_change_tail)(void *skb, __u32 len, __u64 flags) = (void *) 38;
static long (* const bpf_xdp_adjust_head)(void *xdp_md, int delta) = (void *) 44;
static long (* const bpf_xdp_adjust_tail)(void *xdp_md, int delta) = (void *) 65;
static __u64 (* const bpf_xdp_get_buff_len)(void *xdp_md) = (void *) 188;
static long (* const bpf_xdp_store_bytes)(void *xdp_md, __u32 offset, void *buf, __u32 len) = (void *) 190;

/* The format string is a static array, so clang puts it in .rodata, which the
 * loader turns into a frozen map the helper may read. */
#define bpf_printk(fmt, ...)                                                   \
	({                                                                     \
		static const char ____fmt[] = fmt;                             \
		bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__);     \
	})

#endif
