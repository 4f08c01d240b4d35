/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the manifest check (man_verify, as restore calls it,
 * quiet; then cmd_verify, as `cr verify DIR` and `cr verify --json DIR`).
 * The input is up to three parts, split at NUL bytes:
 *
 *   MANIFEST [\0 PARENT_MANIFEST [\0 ENTRIES]]
 *
 * In a private directory made once, each input gets a fresh checkpoint
 * directory a/ holding small files of a real CRIU 4.2 checkpoint (the seeds'
 * manifests list them with their true hashes), a log and a stats file
 * (which a manifest leaves out), and a page-server stand-in (pages-1.img),
 * with MANIFEST as its cr-manifest (none when the part is empty). With a
 * second part, b/ is made the same way with PARENT_MANIFEST, a/parent
 * points to ../b and b/parent to ../b itself (a chain as long as its
 * manifests say, up to the 64 links man_verify follows). ENTRIES, one a
 * line, adds to a/: NAME an empty file, NAME/ a directory, NAME>TARGET a
 * symlink (relative, without "..": it cannot leave a/). Everything is
 * removed after each input, and no call may leave a descriptor open.
 *
 * The three calls must agree: cmd_verify succeeds, in text and JSON,
 * exactly when the quiet check found no problem and every directory had
 * its manifest; and what --json prints must be one JSON document.
 */
#include "fz.h"

static char fz_dir[] = "/tmp/cr-fuzz-man.XXXXXX";
static char fz_a[sizeof(fz_dir) + 2];
static int fz_root = -1;

/* files of a real checkpoint (a python3 process, CRIU 4.2.1) */
static const char inventory_img[] =
	"\x16\x31\x31\x58\x4e\x00\x00\x00\x08\x02\x10\x01\x1a\x18\x08\x01\x10\x01\x18\x01\x20\x01\x28\x01"
	"\x30\x02\x38\x03\x40\x04\x48\x06\x50\x07\x58\x08\x60\x05\x20\x01\x28\x01\x30\x00\x58\x00\x62\x00"
	"\x6a\x24\x65\x35\x30\x63\x36\x35\x61\x38\x2d\x35\x37\x35\x61\x2d\x34\x63\x31\x66\x2d\x39\x31\x34"
	"\x37\x2d\x66\x65\x30\x38\x64\x35\x61\x37\x35\x34\x30\x35";
static const char pstree_img[] =
	"\x19\x43\x56\x54\x30\x30\x27\x50\x0e\x00\x00\x00\x08\x86\x72\x10\x00\x18\x86\x72\x20\x86\x72\x28"
	"\x86\x72";
static const char ids_img[] =
	"\x19\x43\x56\x54\x30\x20\x43\x54\x18\x00\x00\x00\x08\x02\x10\x02\x18\x02\x20\x02\x28\x01\x30\x02"
	"\x38\x03\x40\x04\x48\x06\x50\x07\x58\x08\x60\x05";
static const char seccomp_img[] = "\x19\x43\x56\x54\x49\x30\x41\x64\x00\x00\x00\x00";
static const char pipes_data_img[] =
	"\x19\x43\x56\x54\x09\x37\x45\x56\x0a\x00\x00\x00\x08\x8e\xb7\x27\x10\x00\x18\x80\x80\x04";
static const char stats_dump[] =
	"\x40\x59\x10\x55\x06\x33\x09\x57\x24\x00\x00\x00\x0a\x22\x08\x63\x10\xdc\x94\x01\x18\xb3\x24\x20"
	"\xeb\x11\x28\xe5\x0e\x30\x00\x38\xfc\x0d\x40\x00\x48\x00\x50\x08\x58\x08\x60\x00\x68\x00\x70\x00";
static const char fs_img[] = "\x19\x43\x56\x54\x12\x39\x40\x51\x06\x00\x00\x00\x08\x21\x10\x22\x18\x12";
static const char timens_img[] =
	"\x19\x43\x56\x54\x33\x44\x11\x43\x16\x00\x00\x00\x0a\x09\x08\xae\x0c\x10\x95\xcd\x97\x80\x03\x12"
	"\x09\x08\xae\x0c\x10\xbd\xcd\x97\x80\x03";
static const char pages_img[] = "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";	/* not the real 7 MB */
static const char dump_log[] = "(00.000000) Dumping finished successfully\n";

#define FZ_FILE(name, a) { name, a, sizeof(a) - 1 }
static const struct fz_file {
	const char *name;
	const char *buf;
	size_t len;
} fz_top[] = {
	FZ_FILE("inventory.img", inventory_img), FZ_FILE("pstree.img", pstree_img), FZ_FILE("ids-14598.img", ids_img),
	FZ_FILE("seccomp.img", seccomp_img), FZ_FILE("pipes-data.img", pipes_data_img), FZ_FILE("stats-dump", stats_dump),
	FZ_FILE("dump.log", dump_log), FZ_FILE("pages-1.img", pages_img),
}, fz_parent[] = {
	FZ_FILE("fs-14598.img", fs_img), FZ_FILE("timens-0.img", timens_img), FZ_FILE("pages-1.img", pages_img),
	FZ_FILE("pagemap-1.img", pages_img), FZ_FILE("dump.log", dump_log),
};

static void fz_cleanup(void)
{
	if (fz_root >= 0) {
		rm_rf_at(fz_root, "a");
		rm_rf_at(fz_root, "b");
	}
	rmdir(fz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_init(C_VERIFY, "verify");
	if (!mkdtemp(fz_dir) || (fz_root = open(fz_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		abort();
	snprintf(fz_a, sizeof(fz_a), "%s/a", fz_dir);
	atexit(fz_cleanup);
	return 0;
}

static int fz_put(int dfd, const char *name, const void *buf, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	if (write_all(fd, buf, len) || close(fd))
		abort();
	return 0;
}

/* Directory name with its files and MANIFEST (when not empty): its fd. */
static int fz_mkdir(const char *name, const struct fz_file *f, size_t nf, const uint8_t *man, size_t len)
{
	int dfd;

	if (mkdirat(fz_root, name, 0700) || (dfd = openat(fz_root, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		abort();
	for (size_t i = 0; i < nf; i++)
		if (fz_put(dfd, f[i].name, f[i].buf, f[i].len))
			abort();
	if (len && fz_put(dfd, MANIFEST, man, len))
		abort();
	return dfd;
}

/* The ENTRIES part: at most 16 lines; what cannot be made is left out. */
static void fz_entries(int dfd, const uint8_t *p, size_t len)
{
	char line[2 * NAME_MAX + 4], *t;

	for (int k = 0; len && k < 16; k++) {
		const uint8_t *e = memchr(p, '\n', len);
		size_t n = e ? (size_t)(e - p) : len;

		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			if ((t = strchr(line, '>'))) {
				*t++ = '\0';
				if (*t && *t != '/' && !strstr(t, "..") && !strchr(line, '/') && strlen(line) <= NAME_MAX)
					symlinkat(t, dfd, line);
			} else if (n > 1 && line[n - 1] == '/') {
				line[n - 1] = '\0';
				if (!strchr(line, '/') && n - 1 <= NAME_MAX && !str_eq(line, ".") && !str_eq(line, ".."))
					mkdirat(dfd, line, 0700);
			} else if (n && !strchr(line, '/') && n <= NAME_MAX && !str_eq(line, ".") && !str_eq(line, "..")) {
				fz_put(dfd, line, "", 0);
			}
		}
		p += e ? n + 1 : n, len -= e ? n + 1 : n;
	}
}

/* cr verify [--json] a: its exit status; the JSON must parse. */
static int fz_verify(bool json)
{
	volatile int rc = -1;
	char *printed;
	size_t n;

	cfg.json = json;
	if (json)
		fz_capture_start();
	fz_armed = 1;
	if (!setjmp(fz_jmp))
		rc = cmd_verify();
	fz_armed = 0;
	cfg.json = false;
	if (json) {
		printed = fz_capture_end(&n);
		if (n && !fz_json_ok(printed, n))
			fz_fail("cr verify --json: not JSON", printed);
		free(printed);
	}
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *args[2];
	const uint8_t *part[3] = { data, NULL, NULL };
	size_t len[3] = { size, 0, 0 };
	struct verdict v = { .quiet = true };
	struct fz_fds fds;
	int a, b = -1, text, json;

	for (int i = 0; i < 2; i++) {
		const uint8_t *z = memchr(part[i], '\0', len[i]);

		if (!z)
			break;
		part[i + 1] = z + 1, len[i + 1] = len[i] - (size_t)(z + 1 - part[i]);
		len[i] = (size_t)(z - part[i]);
	}
	a = fz_mkdir("a", fz_top, ARRAY_LEN(fz_top), part[0], len[0]);
	if (part[1]) {
		b = fz_mkdir("b", fz_parent, ARRAY_LEN(fz_parent), part[1], len[1]);
		if (symlinkat("../b", a, "parent") || symlinkat("../b", b, "parent"))
			abort();
	}
	if (part[2])
		fz_entries(a, part[2], len[2]);

	fz_fds_take(&fds);
	fz_armed = 1;
	if (!setjmp(fz_jmp))
		man_verify(a, fz_a, &v, 0);
	fz_armed = 0;
	cfg.args = args, cfg.nargs = 1, args[0] = fz_a;
	text = fz_verify(false), json = fz_verify(true);
	if (text != json || text != (v.problems || v.unverified ? EXIT_FAIL : EXIT_OK))
		fz_fail("verify: the quiet check, the text and the JSON disagree", NULL);
	if (fz_fds_close_new(&fds))
		fz_fail("verify left a descriptor open", NULL);

	close(a);
	if (b >= 0)
		close(b);
	if (rm_rf_at(fz_root, "a") || rm_rf_at(fz_root, "b"))
		abort();
	return 0;
}
