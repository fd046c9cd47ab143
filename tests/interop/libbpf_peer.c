// SPDX-License-Identifier: GPL-2.0
/* What libbpf (Debian's libbpf-dev) makes of an object, for tests/interop.rs
 * to compare with rawbpf. Built by the test (gcc, linked with -lbpf).
 *
 *   libbpf_peer names OBJ        open and load OBJ (which must pin nothing),
 *                                print each map as the kernel knows it:
 *                                "NAME FLAGS" (OBJ_GET_INFO_BY_FD), then exit
 *   libbpf_peer pin ROOT OBJ     open OBJ with pin_root_path ROOT, load it
 *                                (libbpf reuses or pins its LIBBPF_PIN_BY_NAME
 *                                maps there), print "NAME ID" for each such
 *                                map, exit: the pins stay
 *
 * Exit status 0 on success, 1 on a libbpf error, 2 on bad usage. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static int info(const struct bpf_map *map, struct bpf_map_info *out)
{
	__u32 len = sizeof(*out);

	memset(out, 0, len);
	return bpf_obj_get_info_by_fd(bpf_map__fd(map), out, &len);
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct bpf_map_info mi;
	struct bpf_object *obj;
	struct bpf_map *map;
	int pin = argc == 4 && !strcmp(argv[1], "pin");

	if (!pin && !(argc == 3 && !strcmp(argv[1], "names"))) {
		fprintf(stderr, "usage: %s names OBJ | pin ROOT OBJ\n", argv[0]);
		return 2;
	}
	if (pin)
		opts.pin_root_path = argv[2];
	obj = bpf_object__open_file(argv[argc - 1], &opts);
	if (!obj) {
		fprintf(stderr, "open %s: %s\n", argv[argc - 1], strerror(errno));
		return 1;
	}
	/* names: nothing may be pinned anywhere. */
	bpf_object__for_each_map(map, obj) {
		if (!pin && bpf_map__pin_path(map)) {
			fprintf(stderr, "map %s would be pinned\n", bpf_map__name(map));
			return 2;
		}
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "load %s: %s\n", argv[argc - 1], strerror(errno));
		return 1;
	}
	bpf_object__for_each_map(map, obj) {
		if (info(map, &mi)) {
			fprintf(stderr, "info %s: %s\n", bpf_map__name(map), strerror(errno));
			return 1;
		}
		if (!pin)
			printf("%s 0x%x\n", mi.name, mi.map_flags);
		else if (bpf_map__pin_path(map))
			printf("%s %u\n", bpf_map__name(map), mi.id);
	}
	bpf_object__close(obj);
	return 0;
}
