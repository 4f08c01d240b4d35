/* SPDX-License-Identifier: MIT */
/*
 * workload: the processes cr's tests checkpoint and restore. Each mode
 * starts with only fds 0-2 open (an fd inherited from the test harness
 * would pin a mount CRIU cannot find after unshare --mount-proc) and in a
 * session of its own (CRIU refuses a tree whose session leader is outside
 * its pid namespace), then reports what it sees in a status file that the
 * tests read. Writes go through a temporary file, FILE.tmpPID, so a reader
 * never sees a half-written status. That file is published by a hard link
 * renamed over FILE and only unlinked, to be made anew, just before the
 * next write; it is opened O_WRONLY|O_APPEND, which CRIU does not check the
 * size of. So a checkpoint taken while it was open can be restored after
 * the original went on writing (--leave-running): the path still exists,
 * whatever its size now. (A rename of the temporary file itself took the
 * path away, and 1 in about 700 such checkpoints failed to restore.)
 *
 *   workload counter FILE [MIB [DIRTY]]
 *                                 count every 50 ms into FILE; with MIB,
 *                                 hold MIB of pseudo-random data and write
 *                                 "COUNT ok|BAD" after checking it; with
 *                                 DIRTY, rewrite one word in each of DIRTY
 *                                 MiB worth of its pages per second (the
 *                                 checksum follows), so pre-dumps find them
 *                                 dirty
 *   workload tcp FILE PORT        a server and its client on 127.0.0.1:PORT;
 *                                 the client sends a counter every 50 ms,
 *                                 the server writes "COUNT ok" while every
 *                                 number arrives in order, "COUNT BAD" once
 *                                 one does not
 *   workload tree N FILE          N processes, each counting into FILE.I
 *   workload fds FILE DIR         an open file at an offset, a pipe and a
 *                                 unix socketpair, exercised every 50 ms:
 *                                 "COUNT ok" or "COUNT BAD what"
 *   workload exit CODE FILE       wait until FILE exists, then exit CODE
 *   workload exec CMD [ARG...]    close fds > 2, setsid, exec CMD
 *   workload tty FILE             count into FILE while holding the
 *                                 controlling terminal on fds 0-2
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void status(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void status(const char *file, const char *fmt, ...)
{
	char tmp[4096], lnk[4096], buf[256];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", file, (int)getpid());
	snprintf(lnk, sizeof(lnk), "%s.new%d", file, (int)getpid());
	unlink(tmp);	/* FILE keeps the last status */
	fd = open(tmp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	/* empty unless a restore reopened it: then it holds what came later */
	if (ftruncate(fd, 0) != 0 || write(fd, buf, (size_t)n) != n) {
		close(fd);
		return;
	}
	close(fd);
	unlink(lnk);
	if (link(tmp, lnk) == 0)
		rename(lnk, file);
}

static void nap(void)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static void clean_start(bool detach_stdio)
{
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	if (detach_stdio) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	setsid();
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int counter(const char *file, long mib, long dirty)
{
	size_t n = (size_t)mib << 17; /* 8-byte words */
	uint64_t *data = n ? malloc(n * 8) : NULL, seed = 88172645463325252ull, sum = 0;
	unsigned long count = 0;
	size_t next = 0, per_tick = (size_t)dirty * 256 / 20;	/* pages per 50 ms */
	bool bad = false;	/* once the data was wrong, say so for good */

	if (n && !data)
		return 1;
	for (size_t i = 0; i < n; i++)
		sum += data[i] = xorshift(&seed);
	for (;;) {
		const char *verdict = "ok";

		count++;
		if (n && count % 20 == 0) {
			uint64_t s = 0;

			for (size_t i = 0; i < n; i++)
				s += data[i];
			bad |= s != sum;
		}
		if (bad)
			verdict = "BAD";
		/* one word per page: the page is dirty, the sum stays known */
		for (size_t k = 0; n && k < per_tick; k++, next = (next + 512) % n) {
			uint64_t v = xorshift(&seed);

			sum += v - data[next];
			data[next] = v;
		}
		status(file, "%lu %s\n", count, verdict);
		nap();
	}
}

static int tcp(const char *file, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0), c;
	uint64_t want = 1, got;
	bool bad = false;

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1))
		return 1;
	if (fork() == 0) {
		uint64_t i = 1;
		int s = socket(AF_INET, SOCK_STREAM, 0);

		close(l);
		if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)))
			return 1;
		for (;; i++) {
			if (write(s, &i, sizeof(i)) != sizeof(i))
				return 1;
			nap();
		}
	}
	if ((c = accept(l, NULL, NULL)) < 0)
		return 1;
	close(l);
	for (;;) {
		size_t off = 0;

		while (off < sizeof(got)) {
			ssize_t r = read(c, (char *)&got + off, sizeof(got) - off);

			if (r <= 0) {
				status(file, "%lu BAD connection closed\n", (unsigned long)want - 1);
				return 1;
			}
			off += (size_t)r;
		}
		bad |= got != want;
		want = got + 1;
		status(file, "%lu %s\n", (unsigned long)got, bad ? "BAD" : "ok");
	}
}

static int fds(const char *file, const char *dir)
{
	char path[4096], buf[16];
	int p[2], sp[2], f;
	unsigned long count = 0;

	snprintf(path, sizeof(path), "%s/data", dir);
	f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (f < 0 || write(f, "0123456789", 10) != 10 || lseek(f, 4, SEEK_SET) != 4 || pipe(p) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sp))
		return 1;
	for (;;) {
		const char *bad = NULL;

		count++;
		if (lseek(f, 0, SEEK_CUR) != 4)
			bad = "file offset";
		else if (pread(f, buf, 3, 4) != 3 || memcmp(buf, "456", 3))
			bad = "file content";
		else if (write(p[1], "x", 1) != 1 || read(p[0], buf, 1) != 1 || buf[0] != 'x')
			bad = "pipe";
		else if (write(sp[0], "y", 1) != 1 || read(sp[1], buf, 1) != 1 || buf[0] != 'y')
			bad = "socketpair";
		status(file, "%lu %s%s\n", count, bad ? "BAD " : "ok", bad ? bad : "");
		nap();
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "counter") && argc >= 3) {
		clean_start(true);
		return counter(argv[2], argc > 3 ? atol(argv[3]) : 0, argc > 4 ? atol(argv[4]) : 0);
	}
	if (!strcmp(mode, "tcp") && argc == 4) {
		clean_start(true);
		return tcp(argv[2], atoi(argv[3]));
	}
	if (!strcmp(mode, "tree") && argc == 4) {
		int n = atoi(argv[2]);
		char f[4096];

		clean_start(true);
		for (int i = 1; i < n; i++)
			if (fork() == 0) {
				snprintf(f, sizeof(f), "%s.%d", argv[3], i);
				return counter(f, 0, 0);
			}
		snprintf(f, sizeof(f), "%s.0", argv[3]);
		return counter(f, 0, 0);
	}
	if (!strcmp(mode, "fds") && argc == 4) {
		clean_start(true);
		return fds(argv[2], argv[3]);
	}
	if (!strcmp(mode, "exit") && argc == 4) {
		clean_start(true);
		while (access(argv[3], F_OK))
			nap();
		return atoi(argv[2]);
	}
	if (!strcmp(mode, "exec") && argc >= 3) {
		clean_start(false);
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		return 127;
	}
	if (!strcmp(mode, "tty") && argc == 3) {
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		return counter(argv[2], 0, 0);
	}
	fprintf(stderr, "usage: workload counter|tree|fds|exit|exec|tty ...\n");
	return 2;
}
