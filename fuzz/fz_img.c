/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the images `cr inspect DIR` reads (cmd_inspect:
 * img_load, img_next and nanopb on images.proto, ins_proc, ins_file,
 * ins_cgset, stats_read), in text and with --json. The input is a checkpoint
 * directory packed as records, each
 *
 *   u8 KIND, u32 N, u32 LEN (little-endian), then LEN bytes (fewer at the end)
 *
 * written as a file of a fresh directory (a later record of the same name
 * replaces it; at most 32 records). KIND % 11 picks the name:
 *
 *   0 inventory.img  1 pstree.img  2 files.img  3 cgroup.img  4 stats-dump
 *   5 parent (a symlink to the bytes, up to a NUL; inspect only reads it)
 *   6 core-N.img  7 ids-N.img  8 mm-N.img  9 pagemap-N.img  10 fdinfo-N.img
 *
 * N counts only for the last five: the pids of pstree.img and the files_id
 * of ids-N.img name them. The seeds (fuzz/corpus/img) are the images of a
 * real CRIU 4.2.1 checkpoint of a python3 process, packed so, with the
 * synthetic cgroup.img and second process of its variants said in their
 * names. The images' layout: cmd_inspect's comment in cr.c.
 *
 * An exit() (die: no readable inventory.img) ends a run as it would end cr,
 * and its open directory is closed here; a run that returns must have
 * closed everything it opened. Both runs of an input must end alike, and
 * what --json prints must be one JSON document.
 */
#include "fz.h"

static char fz_dir[] = "/tmp/cr-fuzz-img.XXXXXX";
static char fz_d[sizeof(fz_dir) + 2];
static int fz_root = -1;

static void fz_cleanup(void)
{
	if (fz_root >= 0)
		rm_rf_at(fz_root, "d");
	rmdir(fz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_init(C_INSPECT, "inspect");
	if (!mkdtemp(fz_dir) || (fz_root = open(fz_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		abort();
	snprintf(fz_d, sizeof(fz_d), "%s/d", fz_dir);
	atexit(fz_cleanup);
	return 0;
}

static uint32_t fz_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The records into directory dfd. */
static void fz_unpack(int dfd, const uint8_t *p, size_t size)
{
	static const char *const kind[] = { "inventory", "pstree", "files", "cgroup", "stats-dump", "parent",
					    "core", "ids", "mm", "pagemap", "fdinfo" };
	char name[48], target[PATH_MAX];

	for (int k = 0; size >= 9 && k < 32; k++) {
		unsigned t = p[0] % ARRAY_LEN(kind);
		uint32_t n = fz_le32(p + 1);
		size_t len = fz_le32(p + 5);
		int fd;

		p += 9, size -= 9;
		len = len < size ? len : size;
		if (t == 5) {
			const uint8_t *z = memchr(p, '\0', len);
			size_t l = z ? (size_t)(z - p) : len;

			if (l && l < sizeof(target)) {
				memcpy(target, p, l);
				target[l] = '\0';
				unlinkat(dfd, "parent", 0);
				if (symlinkat(target, dfd, "parent"))
					abort();
			}
		} else {
			if (t >= 6)
				snprintf(name, sizeof(name), "%s-%u.img", kind[t], n);
			else
				snprintf(name, sizeof(name), t == 4 ? "%s" : "%s.img", kind[t]);
			fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd < 0 || write_all(fd, p, len) || close(fd))
				abort();
		}
		p += len, size -= len;
	}
}

/* cr inspect [--json] DIR: 256 + its return value, or its exit code. */
static int fz_inspect(bool json)
{
	struct fz_fds fds;
	volatile int rc = -1;
	char *printed;
	size_t n;
	int left;

	fz_fds_take(&fds);
	cfg.json = json;
	ins_bad = false;	/* cr inspects one directory a run */
	if (json)
		fz_capture_start();
	fz_armed = 1;
	if (!setjmp(fz_jmp))
		rc = 256 + cmd_inspect();
	else
		rc = fz_status;
	fz_armed = 0;
	cfg.json = false;
	if (json) {
		printed = fz_capture_end(&n);
		if (n && !fz_json_ok(printed, n))
			fz_fail("cr inspect --json: not JSON", printed);
		free(printed);
	}
	left = fz_fds_close_new(&fds);
	if (left && rc >= 256)
		fz_fail("cmd_inspect returned with a descriptor open", NULL);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *args[2];
	int dfd;

	if (mkdirat(fz_root, "d", 0700) || (dfd = openat(fz_root, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		abort();
	fz_unpack(dfd, data, size);
	close(dfd);
	cfg.args = args, cfg.nargs = 1, args[0] = fz_d;
	if (fz_inspect(false) != fz_inspect(true))
		fz_fail("inspect: the text and the JSON run end differently", NULL);
	if (rm_rf_at(fz_root, "d"))
		abort();
	return 0;
}
