/* bpf_timer_cancel conformance: one SEC("syscall") program per case, run
 * with BPF_PROG_TEST_RUN (no packet; arm_slow and arm_mutual_* take a
 * struct args as ctx_in), each recording helper return values and times in
 * its own slot of `results` (src/selftest/cases.rs mirrors this layout and
 * these case numbers).
 *
 *   struct result {        88 bytes, native endian, one per slot
 *       s64 ret[6];   @0   helper return values, in the order below
 *       u64 t[4];     @48  bpf_ktime_get_ns() stamps (CLOCK_MONOTONIC)
 *       u64 done;     @80  1 once the program (or callback) wrote the slot
 *   };
 *
 * slot  program(s)               records                          expected
 *  0    cancel_uninit            ret[0] cancel                    -EINVAL
 *  1    cancel_inactive          ret[0..2] init, set_cb, cancel   0, 0, 0
 *  2    cancel_active            ret[0..4] init, set_cb, start(1 h),
 *                                cancel, cancel                   0,0,0,1,0
 *  3    cancel_deleted (HASH)    ret[0..4] init, set_cb, start,
 *                                map_delete_elem, cancel          0,0,0,0,-EINVAL
 *  4    cancel_forgets_callback  ret[0..4] cancel (armed), start,
 *                                set_cb, start, cancel            1,-EINVAL,0,0,1
 *  5    init_twice               ret[0..1] init, init             0, -EBUSY
 *  6    init_no_user_ref         ret[0] init in `orphan` after user
 *                                space closed its fds, no pin     -EPERM
 *  7    arm_self_cancel          ret[0..2] init, set_cb, start(0)  0, 0, 0
 *                                ret[3] cancel inside the callback
 *                                (PENDING until it ran), t[0]      -EDEADLK
 *  8    arm_slow + cancel_slow   arm: ret[0..2] init, set_cb, start(0);
 *                                callback: t[0] start, t[1] end of
 *                                a spin of args.spin_ns; cancel_slow
 *                                (other CPU): t[2] before, ret[3],
 *                                t[3] after its cancel            ret[3] 0 and
 *                                                                 t[3] >= t[1]
 *  9,10 arm_mutual_a/_b          ret[0..2] init, set_cb, start(5 ms);
 *       (kernel >= 6.10 only)    callback on its own CPU: t[0] start,
 *                                ret[3] cancel of the OTHER timer,
 *                                t[1] end                         -EDEADLK in
 *                                                                 at least one
 * ret[3] of slots 7-10 reads PENDING (0x7fffffff) until the callback or the
 * canceller wrote it. A second run finds the slot's timer initialised: init
 * then records -EBUSY (tests load a fresh object per case).
 *
 * Timers live in `timers` (ARRAY, one slot per case), `htimers` (HASH, for
 * the deleted-element case) and `orphan` (ARRAY, whose only user reference
 * the test closes on purpose). On 6.18 (host), 6.12 and 6.1 (qemu) every
 * row above was observed as expected, slots 9-10 on 6.12 and 6.18 only. */
#include <linux/bpf.h>
#include <time.h>
#include <errno.h>
#include <bpf/bpf_helpers.h>

#define NSLOTS 16
#define PENDING 0x7fffffff /* "not written yet", for results a callback fills */
#define FAR_NS (3600ULL * 1000000000ULL) /* an hour: never fires during a test */

enum {
	CANCEL_UNINIT = 0,
	CANCEL_INACTIVE = 1,
	CANCEL_ACTIVE = 2,
	CANCEL_DELETED = 3,
	CANCEL_FORGETS_CALLBACK = 4,
	INIT_TWICE = 5,
	INIT_NO_USER_REF = 6,
	SELF_CANCEL = 7,
	SLOW_CALLBACK = 8,
	MUTUAL_A = 9,
	MUTUAL_B = 10,
};

struct result {
	__s64 ret[6];
	__u64 t[4];
	__u64 done;
};

struct elem {
	struct bpf_timer t;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NSLOTS);
	__type(key, __u32);
	__type(value, struct result);
} results SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NSLOTS);
	__type(key, __u32);
	__type(value, struct elem);
} timers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct elem);
} htimers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct elem);
} orphan SEC(".maps");

/* What user space passes in the syscall program's context. */
struct args {
	__u64 start_flags; /* bpf_timer_start flags (BPF_F_TIMER_CPU_PIN from 6.7) */
	__u64 spin_ns;     /* how long a slow callback runs */
};

static __always_inline struct result *slot(__u32 id)
{
	return bpf_map_lookup_elem(&results, &id);
}

static __always_inline struct bpf_timer *timer(__u32 id)
{
	struct elem *e = bpf_map_lookup_elem(&timers, &id);

	return e ? &e->t : 0;
}

static int noop_cb(void *map, __u32 *key, struct elem *value)
{
	return 0;
}

SEC("syscall")
int cancel_uninit(void *ctx)
{
	struct result *r = slot(CANCEL_UNINIT);
	struct bpf_timer *t = timer(CANCEL_UNINIT);

	if (!r || !t)
		return 1;
	r->ret[0] = bpf_timer_cancel(t);
	r->done = 1;
	return 0;
}

SEC("syscall")
int cancel_inactive(void *ctx)
{
	struct result *r = slot(CANCEL_INACTIVE);
	struct bpf_timer *t = timer(CANCEL_INACTIVE);

	if (!r || !t)
		return 1;
	r->ret[0] = bpf_timer_init(t, &timers, CLOCK_MONOTONIC);
	r->ret[1] = bpf_timer_set_callback(t, noop_cb);
	r->ret[2] = bpf_timer_cancel(t);
	r->done = 1;
	return 0;
}

SEC("syscall")
int cancel_active(void *ctx)
{
	struct result *r = slot(CANCEL_ACTIVE);
	struct bpf_timer *t = timer(CANCEL_ACTIVE);

	if (!r || !t)
		return 1;
	r->ret[0] = bpf_timer_init(t, &timers, CLOCK_MONOTONIC);
	r->ret[1] = bpf_timer_set_callback(t, noop_cb);
	r->ret[2] = bpf_timer_start(t, FAR_NS, 0);
	r->ret[3] = bpf_timer_cancel(t); /* armed: 1 */
	r->ret[4] = bpf_timer_cancel(t); /* no longer armed: 0 */
	r->done = 1;
	return 0;
}

SEC("syscall")
int cancel_deleted(void *ctx)
{
	struct result *r = slot(CANCEL_DELETED);
	struct elem zero = {};
	__u32 key = 1;
	struct elem *e;

	if (!r)
		return 1;
	bpf_map_update_elem(&htimers, &key, &zero, BPF_ANY);
	e = bpf_map_lookup_elem(&htimers, &key);
	if (!e)
		return 1;
	r->ret[0] = bpf_timer_init(&e->t, &htimers, CLOCK_MONOTONIC);
	r->ret[1] = bpf_timer_set_callback(&e->t, noop_cb);
	r->ret[2] = bpf_timer_start(&e->t, FAR_NS, 0);
	/* Deleting the element frees its timer; the program may still hold
	 * the element's memory, but the timer in it is gone. */
	r->ret[3] = bpf_map_delete_elem(&htimers, &key);
	r->ret[4] = bpf_timer_cancel(&e->t);
	r->done = 1;
	return 0;
}

SEC("syscall")
int cancel_forgets_callback(void *ctx)
{
	struct result *r = slot(CANCEL_FORGETS_CALLBACK);
	struct bpf_timer *t = timer(CANCEL_FORGETS_CALLBACK);

	if (!r || !t)
		return 1;
	bpf_timer_init(t, &timers, CLOCK_MONOTONIC);
	bpf_timer_set_callback(t, noop_cb);
	bpf_timer_start(t, FAR_NS, 0);
	r->ret[0] = bpf_timer_cancel(t);                  /* 1 */
	r->ret[1] = bpf_timer_start(t, FAR_NS, 0);        /* the callback is gone */
	r->ret[2] = bpf_timer_set_callback(t, noop_cb);   /* 0 */
	r->ret[3] = bpf_timer_start(t, FAR_NS, 0);        /* 0 again */
	r->ret[4] = bpf_timer_cancel(t);                  /* 1 */
	r->done = 1;
	return 0;
}

SEC("syscall")
int init_twice(void *ctx)
{
	struct result *r = slot(INIT_TWICE);
	struct bpf_timer *t = timer(INIT_TWICE);

	if (!r || !t)
		return 1;
	r->ret[0] = bpf_timer_init(t, &timers, CLOCK_MONOTONIC);
	r->ret[1] = bpf_timer_init(t, &timers, CLOCK_MONOTONIC);
	r->done = 1;
	return 0;
}

SEC("syscall")
int init_no_user_ref(void *ctx)
{
	struct result *r = slot(INIT_NO_USER_REF);
	__u32 key = 0;
	struct elem *e = bpf_map_lookup_elem(&orphan, &key);

	if (!r || !e)
		return 1;
	r->ret[0] = bpf_timer_init(&e->t, &orphan, CLOCK_MONOTONIC);
	r->done = 1;
	return 0;
}

/* SELF_CANCEL: the callback cancels its own timer. */
static int self_cancel_cb(void *map, __u32 *key, struct elem *value)
{
	struct result *r = slot(SELF_CANCEL);

	if (r) {
		r->ret[3] = bpf_timer_cancel(&value->t);
		r->t[0] = bpf_ktime_get_ns();
		r->done = 1;
	}
	return 0;
}

SEC("syscall")
int arm_self_cancel(void *ctx)
{
	struct result *r = slot(SELF_CANCEL);
	struct bpf_timer *t = timer(SELF_CANCEL);

	if (!r || !t)
		return 1;
	r->ret[3] = PENDING;
	r->ret[0] = bpf_timer_init(t, &timers, CLOCK_MONOTONIC);
	r->ret[1] = bpf_timer_set_callback(t, self_cancel_cb);
	r->ret[2] = bpf_timer_start(t, 0, 0); /* fire as soon as possible */
	return 0;
}

/* SLOW_CALLBACK: a callback that runs for spin_ns, stamping its start
 * (t[0]) and end (t[1]); a canceller on another CPU stamps just before and
 * just after its bpf_timer_cancel (t[2], t[3]) and records its result
 * (ret[3]). */
struct spin {
	__u64 until;
};

static long spin_once(__u32 i, struct spin *s)
{
	return bpf_ktime_get_ns() >= s->until; /* 1 stops the loop */
}

static __always_inline void spin_for(__u64 ns)
{
	struct spin s = { .until = bpf_ktime_get_ns() + ns };

	/* Bounded: bpf_loop runs at most 1 << 23 iterations. */
	bpf_loop(1 << 23, spin_once, &s, 0);
}

__u64 slow_spin_ns;

static int slow_cb(void *map, __u32 *key, struct elem *value)
{
	struct result *r = slot(SLOW_CALLBACK);

	if (!r)
		return 0;
	r->t[0] = bpf_ktime_get_ns();
	spin_for(slow_spin_ns);
	r->t[1] = bpf_ktime_get_ns();
	return 0;
}

SEC("syscall")
int arm_slow(struct args *args)
{
	struct result *r = slot(SLOW_CALLBACK);
	struct bpf_timer *t = timer(SLOW_CALLBACK);

	if (!r || !t)
		return 1;
	slow_spin_ns = args->spin_ns;
	r->ret[3] = PENDING;
	r->t[0] = 0;
	r->t[1] = 0;
	r->ret[0] = bpf_timer_init(t, &timers, CLOCK_MONOTONIC);
	r->ret[1] = bpf_timer_set_callback(t, slow_cb);
	r->ret[2] = bpf_timer_start(t, 0, args->start_flags);
	return 0;
}

SEC("syscall")
int cancel_slow(void *ctx)
{
	struct result *r = slot(SLOW_CALLBACK);
	struct bpf_timer *t = timer(SLOW_CALLBACK);

	if (!r || !t)
		return 1;
	r->t[2] = bpf_ktime_get_ns();
	r->ret[3] = bpf_timer_cancel(t);
	r->t[3] = bpf_ktime_get_ns();
	r->done = 1;
	return 0;
}

/* MUTUAL_A/B (kernels >= 6.10 only): two callbacks, each running on its own
 * CPU, wait until the other has started and then cancel each other's timer.
 * Each records its cancel's result in ret[3] of its slot, its start in t[0]
 * and its end in t[1]. */
struct wait_other {
	__u32 other;
	__u64 until;
};

static long other_started(__u32 i, struct wait_other *w)
{
	struct result *o = slot(w->other);

	if (!o)
		return 1;
	return o->t[0] != 0 || bpf_ktime_get_ns() >= w->until;
}

static __always_inline void mutual(__u32 me, __u32 other)
{
	struct result *r = slot(me);
	struct bpf_timer *t = timer(other);
	struct wait_other w = { .other = other };

	if (!r || !t)
		return;
	r->t[0] = bpf_ktime_get_ns();
	w.until = r->t[0] + 200000000ULL; /* wait at most 200 ms for the other */
	bpf_loop(1 << 23, other_started, &w, 0);
	r->ret[3] = bpf_timer_cancel(t);
	r->t[1] = bpf_ktime_get_ns();
	r->done = 1;
}

static int mutual_a_cb(void *map, __u32 *key, struct elem *value)
{
	mutual(MUTUAL_A, MUTUAL_B);
	return 0;
}

static int mutual_b_cb(void *map, __u32 *key, struct elem *value)
{
	mutual(MUTUAL_B, MUTUAL_A);
	return 0;
}

static __always_inline int arm_mutual(__u32 me, void *cb, struct args *args)
{
	struct result *r = slot(me);
	struct bpf_timer *t = timer(me);

	if (!r || !t)
		return 1;
	r->ret[3] = PENDING;
	r->ret[0] = bpf_timer_init(t, &timers, CLOCK_MONOTONIC);
	r->ret[1] = bpf_timer_set_callback(t, cb);
	/* A few ms, so the other CPU's timer is armed too before either fires. */
	r->ret[2] = bpf_timer_start(t, 5000000, args->start_flags);
	return 0;
}

SEC("syscall")
int arm_mutual_a(struct args *args)
{
	return arm_mutual(MUTUAL_A, mutual_a_cb, args);
}

SEC("syscall")
int arm_mutual_b(struct args *args)
{
	return arm_mutual(MUTUAL_B, mutual_b_cb, args);
}

char _license[] SEC("license") = "GPL";
