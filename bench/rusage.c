/* SPDX-License-Identifier: MIT */
/*
 * rusage: run a command and print what it cost, the command itself apart
 * from the children it reaped.
 *
 *   rusage [-o FILE] CMD [ARG...]
 *
 * prints one line of key=value pairs (to FILE, else stdout) once CMD is
 * done; CMD's own stdio is left alone. Times in ms, sizes in KiB.
 *
 *   status        CMD's exit status (128+N for signal N)
 *   wall_ms       from fork to CMD's exit
 *   self_cpu_ms   CPU time of CMD alone, user + system
 *   self_rss_kib  peak RSS of CMD alone (VmHWM)
 *   tot_cpu_ms    CPU time of CMD plus every child it reaped (wait4)
 *   kids_cpu_ms   tot_cpu_ms - self_cpu_ms: for cr, its criu child (and
 *                 whatever that criu reaped)
 *   tot_rss_kib   wait4's ru_maxrss: the largest peak among CMD and the
 *                 children it reaped (for cr: CRIU's); approximate, below
 *
 * Why not just wait4(): the rusage wait4() returns for CMD folds in every
 * child CMD reaped itself. cr reaps its criu swrk child, so wait4's CPU
 * time is cr's plus CRIU's, and its ru_maxrss is the larger of the two
 * (CRIU's). Neither says anything about cr alone. So:
 *
 *  - CPU: once CMD has exited it is left a zombie (waitid WNOWAIT) and
 *    /proc/PID/schedstat is read: its first field is the scheduler's
 *    sum_exec_runtime of that task alone, in ns, exact rather than
 *    tick-sampled, children excluded. Then CMD is reaped. wait4's times
 *    are scaled to the same exact runtimes (cputime_adjust), so the
 *    difference is the children's CPU time, exact too. Limit: schedstat
 *    is the main thread's; cr and CRIU are single-threaded.
 *
 *  - Peak RSS: CMD runs under ptrace with only PTRACE_O_TRACEEXIT set
 *    (PTRACE_SEIZE: no stop at exec, none at fork, children not traced),
 *    so it stops once, at the start of do_exit() while its memory is still
 *    mapped, and VmHWM is read from /proc/PID/status. Why not the kernel's
 *    exit accounting (ru_maxrss, taskstats' hiwater_rss): since Linux 6.2
 *    the RSS counters are per-CPU counters, and those paths read them
 *    without summing the per-CPU parts (up to 31 pages per CPU and counter
 *    unflushed): a static binary touching 200 KiB reads as 0 or 128 KiB
 *    there, while /proc/PID/status sums them exactly (6.16+). The stop
 *    costs CMD one round trip to this tracer at exit, some tens of us of
 *    wall time, the same for every command measured. Limits: VmHWM's
 *    record of a past peak is kept with the same cheap reads, so a peak
 *    unmapped before exit can be under-read by that error (cr does not
 *    shrink); and RSS counts the binary's own mapped pages.
 *
 *  - Not used: taskstats exit records would give each child's own RSS and
 *    lifetime too, but the kernel accepts taskstats listeners only in the
 *    initial pid namespace, and the benchmark runs in one of its own.
 */
#define _GNU_SOURCE
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* VmHWM and VmRSS of a live task, in KiB. */
static void vm_status(pid_t pid, long *hwm, long *rss)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "VmHWM: %ld", hwm);
		sscanf(line, "VmRSS: %ld", rss);
	}
	fclose(f);
}

static double tv_ms(struct timeval tv)
{
	return tv.tv_sec * 1e3 + tv.tv_usec / 1e3;
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	char path[64], line[128];
	struct rusage ru;
	siginfo_t si;
	double t0, t1, self_cpu = -1, tot, kids;
	int c, st, code, go[2], traced;
	long hwm = -1, rss = -1;
	pid_t pid;
	FILE *f;

	while ((c = getopt(argc, argv, "+o:")) != -1) {
		if (c == 'o')
			out = optarg;
		else
			return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: rusage [-o FILE] CMD [ARG...]\n");
		return 2;
	}
	if (pipe2(go, O_CLOEXEC))
		return 1;
	t0 = now_ms();
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		char c1;

		close(go[1]);
		/* exec only once the tracer holds us: the exit stop is certain */
		if (read(go[0], &c1, 1) != 1)
			_exit(127);
		execvp(argv[optind], argv + optind);
		perror(argv[optind]);
		_exit(127);
	}
	close(go[0]);
	traced = ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACEEXIT) == 0;
	if (write(go[1], "", 1) != 1)
		return 1;
	close(go[1]);
	for (;;) {
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (si.si_code != CLD_TRAPPED)
			break;
		/* a ptrace stop: take it (WNOWAIT left it queued) */
		if (waitpid(pid, &st, 0) < 0)
			return 1;
		if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			vm_status(pid, &hwm, &rss);
			ptrace(PTRACE_CONT, pid, 0, 0);
		} else if (st >> 16 == PTRACE_EVENT_STOP) {
			ptrace(PTRACE_LISTEN, pid, 0, 0);	/* a group stop: keep it */
		} else {
			ptrace(PTRACE_CONT, pid, 0, WSTOPSIG(st));	/* deliver the signal */
		}
	}
	t1 = now_ms();
	/* still a zombie: its scheduler runtime is final and its own */
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if ((f = fopen(path, "r"))) {
		unsigned long long ns;

		if (fgets(line, sizeof(line), f) && sscanf(line, "%llu", &ns) == 1)
			self_cpu = ns / 1e6;
		fclose(f);
	}
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR)
			return 1;
	code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	tot = tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
	/* the two are rounded differently (us against ns): no child shows
	 * as a few ns below zero */
	kids = self_cpu < 0 ? -1 : tot - self_cpu < 0.001 ? 0 : tot - self_cpu;

	f = out ? fopen(out, "w") : stdout;
	if (!f)
		return 1;
	fprintf(f, "status=%d wall_ms=%.3f self_cpu_ms=%.3f self_rss_kib=%ld tot_cpu_ms=%.3f kids_cpu_ms=%.3f tot_rss_kib=%ld traced=%d\n",
		code, t1 - t0, self_cpu, hwm, tot, kids, ru.ru_maxrss, traced);
	if (out)
		fclose(f);
	return code;
}
