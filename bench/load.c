/* SPDX-License-Identifier: MIT */
/*
 * load: the workloads cr's benchmarks checkpoint and restore, the observer
 * that measures their downtime from outside, and a pid-1 reaper.
 *
 *   load mem MIB RATE HB    hold MIB MiB of incompressible data, overwrite
 *                           RATE MiB/s of it with fresh random bytes, and
 *                           write a heartbeat to the file HB every ms
 *   load tree K HB          K processes (the root and K-1 sleeping
 *                           children); the root writes the heartbeat
 *   load observe [--first] HB [READY]
 *                           outside the tree: poll HB until SIGTERM, then
 *                           print "first_ms=F gap_ms=G beats=N": F from the
 *                           observer's start to the first new heartbeat,
 *                           G the longest interval between two heartbeats
 *                           seen, N how many were seen. With --first it
 *                           exits at the first new heartbeat. With READY
 *                           (a fifo) it writes a line there once it holds
 *                           the current heartbeat: the harness starts the
 *                           operation only then, so a busy machine that
 *                           schedules the observer late cannot make it
 *                           miss a freeze.
 *   load init CMD [ARG...]  pid 1 of a pid namespace: run CMD, reap every
 *                           orphan at once, exit with CMD's status
 *   load serve SOCK CMD...  listen on the unix socket SOCK (a path), take
 *                           the one fd the first client passes (SCM_RIGHTS),
 *                           make it stdin and stdout and exec CMD; exit 1
 *                           if nobody comes within 120 s
 *   load pass SOCK          connect to SOCK (retrying for 30 s while it is
 *                           not there yet) and pass it fd 0
 *   load warm MIB           touch MIB MiB of fresh memory once and exit
 *                           (see bench/migrate.sh: this VM backs guest
 *                           memory lazily)
 *
 * serve and pass are the --via transport of the migration benchmark
 * (bench/migrate.sh): `cr migrate --via "load pass SOCK"` hands its end of
 * the stream (a socketpair) to a `cr receive --stdio` that serve started
 * inside the other host. The hosts are sibling pid namespaces, and
 * setns(2) cannot enter a sibling (nor a parent) pid namespace, so the
 * tests' `--via "nsenter ..."` works only one way; passing the fd itself
 * gives the receiver the very socket nsenter would have, in both
 * directions, with nothing copying bytes in between.
 *
 * The workloads start as CRIU needs them: only fds 0-2 open (an fd
 * inherited from the harness would pin a mount CRIU cannot find after
 * unshare --mount-proc), stdio on /dev/null, in a session of their own.
 *
 * Why a heartbeat file and not a pipe or socket to the observer: CRIU
 * cannot dump a pipe or a socket whose other end is outside the tree
 * without extra options, and the benchmark must run both tools with the
 * same plain options. A regular file is dumped and reopened by path. Each
 * beat is a 16-byte record {t, ~t} written with one pwrite; the observer
 * accepts a record only when both halves agree, so a torn read is skipped.
 * t is CLOCK_REALTIME in ns: the one clock the heartbeat and the observer
 * share across a restore.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void clean_start(void)
{
	int null;

	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	if (null > 2)
		close(null);
	setsid();
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void beat(int fd)
{
	uint64_t rec[2];

	rec[0] = (uint64_t)now_ns(CLOCK_REALTIME);
	rec[1] = ~rec[0];
	if (pwrite(fd, rec, sizeof(rec), 0) != sizeof(rec))
		_exit(3);
}

static int hb_open(const char *hb)
{
	int fd = open(hb, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		perror(hb);
		exit(1);
	}
	return fd;
}

/*
 * Random data, so no image compression or zero-page detection makes it
 * cheaper than real memory. The dirtying is paced by elapsed time, not by
 * ticks: after a freeze (a dump) the process does not catch up in a burst
 * beyond RATE, it just continues.
 */
static int mem(long mib, long rate, const char *hb)
{
	size_t words = (size_t)mib << 17, cur = 0;
	uint64_t *data, seed = 88172645463325252ull;
	int64_t t0, budget = 0;
	int fd;

	clean_start();
	fd = hb_open(hb);
	data = words ? malloc(words * 8) : NULL;
	if (words && !data)
		return 1;
	for (size_t i = 0; i < words; i++)
		data[i] = xorshift(&seed);
	t0 = now_ns(CLOCK_MONOTONIC);
	for (;;) {
		int64_t t = now_ns(CLOCK_MONOTONIC);

		beat(fd);
		if (rate && words) {
			/* words owed since the last tick, at RATE MiB/s; a gap
			 * longer than 100 ms (a freeze) is not made up */
			int64_t dt = t - t0;

			if (dt > 100000000)
				dt = 1000000;
			budget += dt * rate * 131072 / 1000000000;
			for (; budget > 0; budget--) {
				data[cur] = xorshift(&seed);
				cur = (cur + 1) % words;
			}
		}
		t0 = t;
		sleep_ns(1000000);
	}
}

static int tree(int k, const char *hb)
{
	int fd;

	clean_start();
	for (int i = 1; i < k; i++)
		if (fork() == 0)
			for (;;)
				pause();
	fd = hb_open(hb);
	for (;;) {
		beat(fd);
		sleep_ns(1000000);
	}
	return 0;
}

/* Tell the harness the observer is in place (or gave up): it waits. */
static void signal_ready(const char *ready)
{
	int r;

	if (!ready)
		return;
	r = open(ready, O_WRONLY | O_CLOEXEC);
	if (r < 0 || write(r, "\n", 1) != 1)
		perror(ready);
	if (r >= 0)
		close(r);
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * Poll every 100 us: fine enough against a 1 ms heartbeat, and cheap
 * enough (one pread) not to steal much CPU from CRIU on a 2-core machine.
 * Gaps are computed from the heartbeat's own timestamps, so the polling
 * delay does not enter them, only the 1 ms beat period does.
 */
static int observe(const char *hb, int first_only, const char *ready)
{
	int64_t start = now_ns(CLOCK_REALTIME), last = 0, first = -1, gap = 0, stop_at = 0;
	uint64_t rec[2], initial = 0;
	long beats = 0;
	int fd = open(hb, O_RDONLY | O_CLOEXEC);
	struct sigaction sa = { .sa_handler = on_term };

	if (fd < 0) {
		perror(hb);
		signal_ready(ready);
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* the beat already in the file opens the first interval: a freeze
	 * that starts before the first poll still counts. A torn read (the
	 * workload writing meanwhile) fails the check: read again. */
	for (int i = 0; i < 1000; i++) {
		if (pread(fd, rec, sizeof(rec), 0) == sizeof(rec) && rec[1] == ~rec[0]) {
			last = (int64_t)(initial = rec[0]);
			break;
		}
		sleep_ns(100000);
	}
	signal_ready(ready);
	/*
	 * SIGTERM comes the moment the dump command exits, which can be
	 * before the thawed workload has beaten again: the freeze would then
	 * never close an interval and go unseen (it did, for the CLI, which
	 * exits right after thawing). So after SIGTERM keep watching until a
	 * beat stamped after it arrives, for at most 2 s. A restore observer
	 * (--first) stops at once: SIGTERM there means the restore failed.
	 */
	for (;;) {
		if (stop && !stop_at) {
			stop_at = now_ns(CLOCK_REALTIME);
			if (first_only)
				break;
		}
		if (stop_at && now_ns(CLOCK_REALTIME) - stop_at > 2000000000)
			break;
		if (pread(fd, rec, sizeof(rec), 0) == sizeof(rec) && rec[1] == ~rec[0] && rec[0] != initial &&
		    (int64_t)rec[0] != last) {
			int64_t t = (int64_t)rec[0];

			if (first < 0)
				first = now_ns(CLOCK_REALTIME) - start;
			if (last && t - last > gap)
				gap = t - last;
			last = t;
			beats++;
			if (first_only || (stop_at && t >= stop_at))
				break;
		}
		sleep_ns(100000);
	}
	printf("first_ms=%.3f gap_ms=%.3f beats=%ld\n", first < 0 ? -1.0 : first / 1e6, gap / 1e6, beats);
	return 0;
}

static int init(char **argv)
{
	pid_t child, p;
	int st, ret = 1;

	child = fork();
	if (child == 0) {
		execvp(argv[0], argv);
		perror(argv[0]);
		_exit(127);
	}
	for (;;) {
		p = wait(&st);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			return ret;
		if (p == child) {
			ret = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			/* leftovers die with the namespace when pid 1 exits */
			return ret;
		}
	}
}

static int unix_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path)) {
		fprintf(stderr, "load: %s: path too long for a unix socket\n", path);
		return -1;
	}
	strcpy(a->sun_path, path);
	return 0;
}

static int serve(const char *path, char **argv)
{
	struct sockaddr_un a;
	char b, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &b, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm;
	struct pollfd pfd;
	int s, c, fd = -1;

	if (unix_addr(path, &a))
		return 1;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1)) {
		perror(path);
		return 1;
	}
	pfd = (struct pollfd){ .fd = s, .events = POLLIN };
	if (poll(&pfd, 1, 120000) != 1) {
		fprintf(stderr, "load serve: nobody came to %s\n", path);
		unlink(path);
		return 1;
	}
	c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
	close(s);
	unlink(path);
	if (c < 0 || recvmsg(c, &mh, MSG_CMSG_CLOEXEC) != 1) {
		perror("load serve: accept/recvmsg");
		return 1;
	}
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	close(c);
	if (fd < 0) {
		fprintf(stderr, "load serve: no fd came with the message\n");
		return 1;
	}
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
		return 1;
	if (fd > 1)
		close(fd);
	execvp(argv[0], argv);
	perror(argv[0]);
	return 127;
}

static int pass(const char *path)
{
	struct sockaddr_un a;
	char b = 0, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &b, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm;
	int s = -1, fd = 0;

	if (unix_addr(path, &a))
		return 1;
	for (int i = 0;; i++) {
		s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s >= 0 && !connect(s, (struct sockaddr *)&a, sizeof(a)))
			break;
		if (s < 0 || (errno != ENOENT && errno != ECONNREFUSED) || i >= 3000) {
			perror(path);
			return 1;
		}
		close(s);
		sleep_ns(10000000);
	}
	memset(ctl, 0, sizeof(ctl));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(s, &mh, 0) != 1) {
		perror("load pass: sendmsg");
		return 1;
	}
	close(s);
	return 0;
}

/* Fault in MIB MiB of anonymous memory, then give it back. */
static int warm(long mib)
{
	size_t n = (size_t)mib << 20;
	char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < n; i += 4096)
		p[i] = 1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "mem") && argc == 5)
		return mem(atol(argv[2]), atol(argv[3]), argv[4]);
	if (!strcmp(mode, "tree") && argc == 4)
		return tree(atoi(argv[2]), argv[3]);
	if (!strcmp(mode, "observe") && argc >= 3) {
		int first = !strcmp(argv[2], "--first");

		if (argc - first == 3 || argc - first == 4)
			return observe(argv[2 + first], first, argc - first == 4 ? argv[3 + first] : NULL);
	}
	if (!strcmp(mode, "init") && argc >= 3)
		return init(argv + 2);
	if (!strcmp(mode, "serve") && argc >= 4)
		return serve(argv[2], argv + 3);
	if (!strcmp(mode, "pass") && argc == 3)
		return pass(argv[2]);
	if (!strcmp(mode, "warm") && argc == 3)
		return warm(atol(argv[2]));
	fprintf(stderr, "usage: load mem MIB RATE HB | tree K HB | observe [--first] HB [READY] | init CMD... | "
		"serve SOCK CMD... | pass SOCK | warm MIB\n");
	return 2;
}
