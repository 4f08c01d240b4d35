/* SPDX-License-Identifier: MIT */
/*
 * Shared part of cr's libFuzzer harnesses: cr.c is one file with everything
 * static, so each harness includes it whole. exit() (die, usage_die and the
 * ini loader's own) jumps back into the harness instead, and cr's main is
 * renamed out of libFuzzer's way.
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

#define exit(c) fz_exit(c)
#define main cr_main
#include "../cr.c"
#undef exit
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
