/* SPDX-License-Identifier: MIT */
/*
 * Shared part of cr's libFuzzer harnesses: cr.c is one file with everything
 * static, so each harness includes it whole. exit() (die, usage_die and the
 * ini loader's own) jumps back into the harness instead, cr's main is
 * renamed out of libFuzzer's way, and its big buffers get guard pages.
 *
 * Use: fz_armed = 1; if (!setjmp(fz_jmp)) { code that may exit } fz_armed = 0;
 * an exit() inside ends the block early, with its code in fz_status.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

static jmp_buf fz_jmp;
static int fz_armed;
static volatile int fz_status;

__attribute__((noreturn)) static void fz_exit(int code)
{
	if (fz_armed) {
		fz_armed = 0;
		fz_status = code;
		longjmp(fz_jmp, 1);
	}
	abort();	/* exit() outside an armed block: a harness bug */
}

/*
 * cr's big buffers (BIG: big_map) are anonymous mappings, where ASan has no
 * redzones. Each gets an inaccessible page on either side, so a read or
 * write just before or after one faults (a SEGV, which libFuzzer reports).
 * Only what big_map asks for: private, anonymous, anywhere.
 */
#include <sys/mman.h>
#include <unistd.h>

static void *fz_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *p;

	if (addr || fd != -1 || !(flags & MAP_ANONYMOUS) || !(flags & MAP_PRIVATE))
		return mmap(addr, len, prot, flags, fd, off);
	len = (len + pg - 1) & ~(pg - 1);
	p = mmap(NULL, len + 2 * pg, PROT_NONE, flags, -1, 0);
	if (p == MAP_FAILED)
		return p;
	if (mprotect(p + pg, len, prot))
		abort();
	return p + pg;
}

#define exit(c) fz_exit(c)
#define mmap fz_mmap
#define main cr_main
#include "../cr.c"
#undef exit
#undef mmap
#undef main

/* stdout to /dev/null (stats_print's JSON, --print-config); stderr stays
 * for libFuzzer and the sanitizers (run.sh uses -close_fd_mask). */
static void fz_quiet_stdout(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (fd >= 0 && fd != 1) {
		dup2(fd, 1);
		close(fd);
	}
}

/*
 * stdout captured (fz_capture_start, then fz_capture_end: what was written,
 * NUL-terminated, in a buffer for the caller to free), for checks on what
 * cr prints. cr writes with write(2) only, unbuffered. fz_init makes the
 * memfd, so that it is there before any count of open descriptors.
 */
static int fz_cap_fd = -1;

static void fz_capture_start(void)
{
	if (fz_cap_fd < 0 || ftruncate(fz_cap_fd, 0) || lseek(fz_cap_fd, 0, SEEK_SET) || dup2(fz_cap_fd, 1) != 1)
		abort();
}

static char *fz_capture_end(size_t *len)
{
	off_t n = lseek(fz_cap_fd, 0, SEEK_END);
	char *p;

	fz_quiet_stdout();
	if (n < 0 || !(p = malloc((size_t)n + 1)) || pread(fz_cap_fd, p, (size_t)n, 0) != n)
		abort();
	p[n] = '\0';
	*len = (size_t)n;
	return p;
}

/*
 * Is s[0..n) one JSON document (RFC 8259: UTF-8, strings without raw
 * control characters, valid escapes), with only whitespace around it?
 */
static bool fz_json_value(const unsigned char **p, const unsigned char *e, int depth);

static void fz_json_ws(const unsigned char **p, const unsigned char *e)
{
	while (*p < e && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
		++*p;
}

static bool fz_json_string(const unsigned char **p, const unsigned char *e)
{
	const unsigned char *s = *p + 1;

	while (s < e && *s != '"') {
		if (*s < 0x20)
			return false;
		if (*s == '\\') {
			if (++s >= e)
				return false;
			if (*s == 'u') {
				for (int i = 1; i <= 4; i++)
					if (s + i >= e || !isxdigit(s[i]))
						return false;
				s += 5;
			} else if (strchr("\"\\/bfnrt", *s) && *s) {
				s++;
			} else {
				return false;
			}
		} else if (*s < 0x80) {
			s++;
		} else {	/* UTF-8: no overlong form, no surrogate, nothing past U+10FFFF */
			int k = *s >= 0xc2 && *s <= 0xdf ? 1 : *s >= 0xe0 && *s <= 0xef ? 2 : *s >= 0xf0 && *s <= 0xf4 ? 3 : -1;
			unsigned lo = 0x80, hi = 0xbf;

			if (k < 0 || s + k >= e)
				return false;
			if (*s == 0xe0)
				lo = 0xa0;
			else if (*s == 0xed)
				hi = 0x9f;
			else if (*s == 0xf0)
				lo = 0x90;
			else if (*s == 0xf4)
				hi = 0x8f;
			if (s[1] < lo || s[1] > hi)
				return false;
			for (int i = 2; i <= k; i++)
				if (s[i] < 0x80 || s[i] > 0xbf)
					return false;
			s += k + 1;
		}
	}
	if (s >= e)
		return false;
	*p = s + 1;
	return true;
}

static bool fz_json_number(const unsigned char **p, const unsigned char *e)
{
	const unsigned char *s = *p;

	if (s < e && *s == '-')
		s++;
	if (s < e && *s == '0')
		s++;
	else if (s < e && *s >= '1' && *s <= '9')
		while (s < e && isdigit(*s))
			s++;
	else
		return false;
	if (s < e && *s == '.') {
		if (++s >= e || !isdigit(*s))
			return false;
		while (s < e && isdigit(*s))
			s++;
	}
	if (s < e && (*s == 'e' || *s == 'E')) {
		if (++s < e && (*s == '+' || *s == '-'))
			s++;
		if (s >= e || !isdigit(*s))
			return false;
		while (s < e && isdigit(*s))
			s++;
	}
	*p = s;
	return true;
}

static bool fz_json_value(const unsigned char **p, const unsigned char *e, int depth)
{
	static const char *const lit[] = { "true", "false", "null" };
	unsigned char close;

	fz_json_ws(p, e);
	if (*p >= e || depth > 64)
		return false;
	if (**p == '"')
		return fz_json_string(p, e);
	if (**p == '-' || isdigit(**p))
		return fz_json_number(p, e);
	for (size_t i = 0; i < ARRAY_LEN(lit); i++)
		if ((size_t)(e - *p) >= strlen(lit[i]) && !memcmp(*p, lit[i], strlen(lit[i])))
			return *p += strlen(lit[i]), true;
	if (**p != '{' && **p != '[')
		return false;
	close = **p == '{' ? '}' : ']';
	++*p;
	fz_json_ws(p, e);
	if (*p < e && **p == close)
		return ++*p, true;
	for (;;) {
		if (close == '}') {
			fz_json_ws(p, e);
			if (*p >= e || **p != '"' || !fz_json_string(p, e))
				return false;
			fz_json_ws(p, e);
			if (*p >= e || **p != ':')
				return false;
			++*p;
		}
		if (!fz_json_value(p, e, depth + 1))
			return false;
		fz_json_ws(p, e);
		if (*p < e && **p == ',') {
			++*p;
			continue;
		}
		if (*p < e && **p == close)
			return ++*p, true;
		return false;
	}
}

static bool fz_json_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + n;

	if (!fz_json_value(&p, e, 0))
		return false;
	fz_json_ws(&p, e);
	return p == e;
}

/* A broken promise: why (and what cr printed) on stderr, then abort(). */
__attribute__((noreturn)) static void fz_fail(const char *why, const char *printed)
{
	dprintf(2, "fuzz: %s%s%s\n", why, printed ? ":\n" : "", printed ? printed : "");
	abort();
}

/* The harnesses' start: cfg as main leaves it for command CMD (NAME). */
static void fz_init(unsigned cmd, const char *name)
{
	fz_quiet_stdout();
	if ((fz_cap_fd = memfd_create("cr-fuzz-stdout", MFD_CLOEXEC)) < 0)
		abort();
	cfg_defaults();
	cfg.ps_fd = -1;
	cfg.cmd = cmd;
	cfg.cmd_name = name;
}

/* An input the harness owns, exactly len bytes long (heap, so ASan sees an
 * over-read past the end). */
static uint8_t *fz_dup(const uint8_t *data, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	if (!p)
		abort();
	memcpy(p, data, len);
	return p;
}

/* The file descriptors open below FZ_FDS, a bit each: taken before a call
 * and compared after it, so what the call left open shows. */
#define FZ_FDS 128
struct fz_fds {
	uint64_t bit[FZ_FDS / 64];
};

static void fz_fds_take(struct fz_fds *s)
{
	memset(s, 0, sizeof(*s));
	for (int fd = 0; fd < FZ_FDS; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			s->bit[fd / 64] |= 1ull << (fd % 64);
}

/* Close the descriptors open now that were not in before; how many. */
static int fz_fds_close_new(const struct fz_fds *before)
{
	struct fz_fds now;
	int n = 0;

	fz_fds_take(&now);
	for (int fd = 0; fd < FZ_FDS; fd++)
		if (now.bit[fd / 64] & ~before->bit[fd / 64] & 1ull << (fd % 64))
			close(fd), n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
