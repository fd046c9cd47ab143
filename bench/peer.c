/* The reference: what `rawbpf run OBJECT --pin DIR --cgroup CG` does, done
 * with libbpf the way its documentation shows. Measurement tooling for
 * `make bench`, not part of rawbpf.
 *
 *   peer OBJECT --pin DIR --cgroup CG
 *
 * Opens and loads every map and program of OBJECT, attaches each cgroup
 * program to CG with a BPF link, creates DIR and pins every map (map_NAME)
 * and link (link_PROGRAM) in it, prints one line per object, and exits.
 * Pin names follow rawbpf's (characters other than [A-Za-z0-9_] become '_'),
 * so the same cleanup removes either loader's pins. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#define MAX_LINKS 256

static int fail(const char *what, int err)
{
	fprintf(stderr, "peer: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/* DIR/PREFIX + NAME with every character outside [A-Za-z0-9_] as '_'. */
static int pin_path(char *buf, size_t size, const char *dir, const char *prefix, const char *name)
{
	int n = snprintf(buf, size, "%s/%s%s", dir, prefix, name);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	for (char *p = buf + strlen(dir) + 1 + strlen(prefix); *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			*p = '_';
	}
	return 0;
}

static int is_cgroup_type(enum bpf_prog_type t)
{
	switch (t) {
	case BPF_PROG_TYPE_CGROUP_SKB:
	case BPF_PROG_TYPE_CGROUP_SOCK:
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
	case BPF_PROG_TYPE_CGROUP_SOCKOPT:
	case BPF_PROG_TYPE_CGROUP_SYSCTL:
	case BPF_PROG_TYPE_CGROUP_DEVICE:
	case BPF_PROG_TYPE_SOCK_OPS:
		return 1;
	default:
		return 0;
	}
}

int main(int argc, char **argv)
{
	const char *object = NULL, *pin = NULL, *cgroup = NULL;
	struct bpf_link *links[MAX_LINKS];
	const char *link_names[MAX_LINKS];
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct bpf_map *map;
	char path[4096];
	int cg, err, nlinks = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pin") && i + 1 < argc)
			pin = argv[++i];
		else if (!strcmp(argv[i], "--cgroup") && i + 1 < argc)
			cgroup = argv[++i];
		else if (argv[i][0] != '-' && !object)
			object = argv[i];
		else {
			fprintf(stderr, "usage: peer OBJECT --pin DIR --cgroup CG\n");
			return 2;
		}
	}
	if (!object || !pin || !cgroup) {
		fprintf(stderr, "usage: peer OBJECT --pin DIR --cgroup CG\n");
		return 2;
	}

	obj = bpf_object__open_file(object, NULL);
	if (!obj)
		return fail(object, errno);
	err = bpf_object__load(obj);
	if (err)
		return fail("bpf_object__load", err);

	cg = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0)
		return fail(cgroup, errno);
	bpf_object__for_each_program(prog, obj) {
		if (!is_cgroup_type(bpf_program__type(prog)))
			continue;
		if (nlinks == MAX_LINKS)
			return fail("too many cgroup programs", E2BIG);
		links[nlinks] = bpf_program__attach_cgroup(prog, cg);
		if (!links[nlinks])
			return fail(bpf_program__name(prog), errno);
		link_names[nlinks++] = bpf_program__name(prog);
	}

	if (mkdir(pin, 0700))
		return fail(pin, errno);
	bpf_object__for_each_map(map, obj) {
		err = pin_path(path, sizeof(path), pin, "map_", bpf_map__name(map));
		if (!err)
			err = bpf_map__pin(map, path);
		if (err)
			return fail(path, err);
		printf("map   %s\n", bpf_map__name(map));
	}
	bpf_object__for_each_program(prog, obj)
		printf("prog  %s\n", bpf_program__name(prog));
	for (int i = 0; i < nlinks; i++) {
		err = pin_path(path, sizeof(path), pin, "link_", link_names[i]);
		if (!err)
			err = bpf_link__pin(links[i], path);
		if (err)
			return fail(path, err);
		printf("link  %s -> %s\n", link_names[i], cgroup);
	}
	printf("pinned under %s\n", pin);

	/* The pins hold what must stay; closing our fds detaches nothing. */
	for (int i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	close(cg);
	bpf_object__close(obj);
	return 0;
}
