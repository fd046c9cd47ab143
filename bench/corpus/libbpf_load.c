/* The libbpf side of `make corpus`: loads each OBJECT the way a libbpf
 * user does (bpf_object__open_file, bpf_object__load), prints one line
 *
 *   NAME<TAB>ok                       every map and autoloaded program loaded
 *   NAME<TAB>FIRST WARNING LINE       libbpf's first warning, when it failed
 *
 * and closes the object, which frees everything it created (nothing is
 * attached). Maps pinned by name go under PIN_ROOT, a scratch directory
 * the caller removes, never under /sys/fs/bpf. Measurement tooling, not
 * part of rawbpf.
 *
 *   libbpf_load PIN_ROOT OBJECT...
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

static char first[512];

/* Keeps libbpf's first warning of the current object, one line. */
static int keep_first(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN || first[0])
		return 0;
	vsnprintf(first, sizeof(first), fmt, ap);
	for (char *p = first; *p; p++) {
		if (*p == '\n' || *p == '\t') {
			*p = *p == '\n' ? '\0' : ' ';
			if (!*p)
				break;
		}
	}
	return 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: libbpf_load PIN_ROOT OBJECT...\n");
		return 2;
	}
	libbpf_set_print(keep_first);
	for (int i = 2; i < argc; i++) {
		LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = argv[1]);
		struct bpf_object *obj;
		int err;

		first[0] = '\0';
		obj = bpf_object__open_file(argv[i], &opts);
		err = libbpf_get_error(obj);
		if (!err) {
			err = bpf_object__load(obj);
			bpf_object__close(obj);
		}
		if (!err)
			printf("%s\tok\n", base_name(argv[i]));
		else
			printf("%s\t%s\n", base_name(argv[i]),
			       first[0] ? first : strerror(err < 0 ? -err : err));
		fflush(stdout);
	}
	return 0;
}
