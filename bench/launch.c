/* launch: starts one command the same way for every loader and reports what
 * it cost; measurement tooling for `make bench`.
 *
 *   launch PINDIR|- PROGRAM [ARG...]
 *
 * Forks, executes PROGRAM, waits for it with wait4 and prints one line:
 *
 *   <exit status> <wall ns> <peak RSS KiB> <user us> <system us>
 *
 * the wall time running from just before fork to just after wait4. Then, if
 * PINDIR is not "-", it removes every file in PINDIR and PINDIR itself: the
 * pins the loader left (none if it failed before making PINDIR). The last reference to a pinned link goes with its
 * pin, which detaches the program.
 *
 * Linux on x86-64 only, and without libc on purpose: the kernel reports as
 * the child's peak RSS the larger of the program's and of the process it
 * was forked from (a forked mm starts with the parent's resident anonymous
 * pages, and exec keeps the old mm's high-water mark), so the launcher
 * must be smaller than anything it measures. This one resides in a few
 * pages. */

typedef unsigned long u64;
typedef long s64;

#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_fork 57
#define SYS_execve 59
#define SYS_exit_group 231
#define SYS_wait4 61
#define SYS_getdents64 217
#define SYS_clock_gettime 228
#define SYS_unlinkat 263
#define SYS_rmdir 84

#define O_RDONLY 0
#define O_DIRECTORY 0200000
#define O_CLOEXEC 02000000
#define AT_FDCWD (-100)
#define CLOCK_MONOTONIC 1
#define ENOENT 2

static s64 sys6(s64 n, s64 a, s64 b, s64 c, s64 d)
{
	s64 ret;
	register s64 r10 __asm__("r10") = d;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}
#define sys(n, a, b, c) sys6(n, (s64)(a), (s64)(b), (s64)(c), 0)

struct timespec {
	s64 sec, nsec;
};
struct timeval {
	s64 sec, usec;
};
struct rusage {
	struct timeval utime, stime;
	s64 maxrss, rest[13];
};
struct dirent64 {
	u64 ino;
	s64 off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

static u64 len(const char *s)
{
	u64 n = 0;
	while (s[n])
		n++;
	return n;
}

static void out(int fd, const char *s)
{
	sys(SYS_write, fd, s, len(s));
}

static char *num(char *p, u64 v)
{
	char tmp[24];
	int n = 0;
	do
		tmp[n++] = '0' + v % 10;
	while (v /= 10);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static u64 now_ns(void)
{
	struct timespec ts;
	sys(SYS_clock_gettime, CLOCK_MONOTONIC, &ts, 0);
	return (u64)ts.sec * 1000000000ul + (u64)ts.nsec;
}

static void die(const char *what)
{
	out(2, "launch: ");
	out(2, what);
	out(2, "\n");
	sys(SYS_exit_group, 1, 0, 0);
}

/* Removes every entry of `dir` (no subdirectories: pins only) and `dir`. */
static void remove_pins(const char *dir)
{
	static char buf[8192] __attribute__((aligned(8)));
	int fd = sys(SYS_open, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd == -ENOENT)
		return; /* the loader failed before pinning anything */
	if (fd < 0)
		die("cannot open the pin directory");
	for (;;) {
		s64 n = sys(SYS_getdents64, fd, buf, sizeof(buf));
		if (n < 0)
			die("getdents64 on the pin directory failed");
		if (n == 0)
			break;
		for (s64 off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			off += d->reclen;
			if (d->name[0] == '.' && (!d->name[1] || (d->name[1] == '.' && !d->name[2])))
				continue;
			if (sys(SYS_unlinkat, fd, d->name, 0) < 0)
				die("cannot remove a pin");
		}
	}
	sys(SYS_close, fd, 0, 0);
	if (sys(SYS_rmdir, dir, 0, 0) < 0)
		die("cannot remove the pin directory");
}

static int run(int argc, char **argv, char **envp)
{
	struct rusage ru;
	int status = 0;
	char line[128], *p = line;

	if (argc < 3) {
		out(2, "usage: launch PINDIR|- PROGRAM [ARG...]\n");
		return 2;
	}
	u64 start = now_ns();
	s64 pid = sys(SYS_fork, 0, 0, 0);
	if (pid == 0) {
		sys(SYS_execve, argv[2], argv + 2, envp);
		die("execve failed");
	}
	if (pid < 0)
		die("fork failed");
	if (sys6(SYS_wait4, pid, (s64)&status, 0, (s64)&ru) != pid)
		die("wait4 failed");
	u64 wall = now_ns() - start;

	/* Exit code, or 128 + signal as a shell reports it. */
	int code = (status & 0x7f) ? 128 + (status & 0x7f) : (status >> 8) & 0xff;
	p = num(p, code);
	*p++ = ' ';
	p = num(p, wall);
	*p++ = ' ';
	p = num(p, ru.maxrss);
	*p++ = ' ';
	p = num(p, ru.utime.sec * 1000000 + ru.utime.usec);
	*p++ = ' ';
	p = num(p, ru.stime.sec * 1000000 + ru.stime.usec);
	*p++ = '\n';
	*p = 0;
	if (!(argv[1][0] == '-' && !argv[1][1]))
		remove_pins(argv[1]);
	out(1, line);
	return 0;
}

/* The kernel starts us with argc, argv[], NULL, envp[] on the stack. */
__attribute__((used)) static void start(s64 *sp)
{
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);
	sys(SYS_exit_group, run(argc, argv, argv + argc + 1), 0, 0);
}

__asm__(".globl _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call start\n"
	"	hlt\n");
