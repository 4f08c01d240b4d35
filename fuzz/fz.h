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

/* The harnesses' start: cfg as main leaves it for command CMD (NAME). */
static void fz_init(unsigned cmd, const char *name)
{
	fz_quiet_stdout();
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
