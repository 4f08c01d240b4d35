/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the migration stream as the receiving side reads it.
 * The input is the byte stream (frames: u32 type, u32 length, little-endian,
 * then the payload), served from a memfd, which poll() always reports
 * readable, so mig_recv never waits (cfg.sigfd is 0: no signalfd polled).
 *
 * Frames are read with mig_recv into a HELLO-sized buffer (cmd_receive's
 * first read) until EOF or an error; each one goes through mig_field,
 * mig_num, mig_token_ok and mig_pid_taken (kill(pid, 0): a probe only).
 * At the first FILE frame the rest of the stream goes to mig_recv_files,
 * which writes the files into a fresh directory, removed after each input.
 */
#include "fz.h"

static struct mig m;
static int fz_fd = -1, fz_root = -1;
static char fz_dir[] = "/tmp/cr-fuzz-mig.XXXXXX";
static char *fz_hello;
#define FZ_HELLO_SIZE (MAX_CG_PIDS * 8 + 512)

static void fz_cleanup(void)
{
	if (fz_root >= 0)
		rm_rf_at(fz_root, "img");
	rmdir(fz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_init(C_RCV, "receive");
	cfg.sigfd = 0;
	if ((fz_fd = memfd_create("cr-fuzz-mig", MFD_CLOEXEC)) < 0 || !mkdtemp(fz_dir) ||
	    (fz_root = open(fz_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !(fz_hello = malloc(FZ_HELLO_SIZE)))
		abort();
	atexit(fz_cleanup);
	return 0;
}

static void fz_frame(const char *buf)
{
	static const char *const keys[] = { "pid", "pids", "token", "criu", "lazy", "parent", "cgmode", "dir",
					    "status", "restore_ms", "files", "bytes", "opts", "why" };
	char out[64], small[8], big[256];
	volatile long long sink = 0;

	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		sink += strlen(mig_field(buf, keys[i], out, sizeof(out)));
		sink += strlen(mig_field(buf, keys[i], small, sizeof(small)));
		sink += mig_num(buf, keys[i]);
	}
	mig_field(buf, "token", big, sizeof(big));
	if (mig_token_ok("s3cret-token", big) != str_eq("s3cret-token", big))
		abort();
	if (mig_token_ok(big, "s3cret-token") != str_eq(big, "s3cret-token"))
		abort();
	sink += mig_pid_taken(buf);
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t len;
	int t;
	volatile int dfd = -1;

	if (ftruncate(fz_fd, 0) || pwrite(fz_fd, data, size, 0) != (ssize_t)size || lseek(fz_fd, 0, SEEK_SET))
		abort();
	fz_armed = 1;
	if (!setjmp(fz_jmp)) {
		while ((t = mig_recv(fz_fd, fz_hello, FZ_HELLO_SIZE, &len)) > 0) {
			if (strlen(fz_hello) > len)
				abort();
			fz_frame(fz_hello);
			if (t == MIG_FILE)
				break;
		}
		if (t == MIG_FILE) {
			if (mkdirat(fz_root, "img", 0700) || (dfd = openat(fz_root, "img", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
				abort();
			memcpy(m.buf, fz_hello, len + 1);
			m.ctl = fz_fd;
			if (!mig_recv_files(&m, dfd, t, len))
				fz_frame(m.buf);
		}
	}
	fz_armed = 0;
	if (dfd >= 0) {
		close(dfd);
		if (rm_rf_at(fz_root, "img"))
			abort();
	}
	return 0;
}
