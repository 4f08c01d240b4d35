/* SPDX-License-Identifier: MIT */
/*
 * cr: checkpoint, pre-dump and restore Linux process trees through CRIU's
 * RPC protocol.
 *
 * cr spawns `criu swrk FD` over a SOCK_SEQPACKET socketpair (or connects to a
 * running `criu service`) and exchanges criu_req/criu_resp messages encoded
 * with nanopb, one message per datagram. Options come from one table that
 * drives the command line, the ini file (parsed by inih), the defaults and
 * --help. Image directories are written beside their target and renamed into
 * place only when CRIU reports success, so a failed checkpoint never leaves a
 * half-written directory or damages an earlier one.
 *
 * What cr deliberately does not do: it does not manage containers (no
 * rootfs, no namespaces setup, no config.json), it does not copy files the
 * tree uses, and it does not reimplement anything CRIU does; it only drives
 * CRIU and guards against the ways CRIU can lose a process.
 */
#define _GNU_SOURCE
#include <sys/file.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ini.h"
#include "pb_decode.h"
#include "pb_encode.h"
#include "rpc.pb.h"
#include "images.pb.h"

/* ========================= Constants and macros ========================= */

#ifndef CR_VERSION
#define CR_VERSION "unknown"
#endif

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The architecture this binary was built for (cr check). */
#if defined(__x86_64__)
#define CR_ARCH "x86_64"
#elif defined(__aarch64__)
#define CR_ARCH "aarch64"
#elif defined(__riscv) && __riscv_xlen == 64
#define CR_ARCH "riscv64"
#elif defined(__arm__)
#define CR_ARCH "armhf"
#else
#define CR_ARCH "unknown"
#endif

/* Exit statuses (README "Exit status"). With restore --wait, cr exits with
 * the restored tree's own status instead, or 128+signal. */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* The oldest CRIU cr talks to: FEATURE_CHECK, pidfd_store and the
 * manage_cgroups_mode values cr sends all exist from 3.15 on. Features that
 * need more are gated one by one in cfg_check_version(). */
#define CRIU_MIN_VERSION 31500

/* Longest value accepted for a path or string option: the nanopb bounds in
 * rpc.options are 1024 bytes including the terminating NUL. */
#define MAX_VALUE 1023
#define MAX_LIST 16	/* criu_opts.external / inherit_fd max_count */
#define MAX_CONFIG_SIZE (1 << 20)
#define MAX_ARGS 512	/* command-line words */

/* How long cr waits for CRIU to wind down after SIGINT/SIGTERM before it
 * kills it (the tree is resumed by CRIU's own failure path). */
#define GRACE_MS 10000

#define TMPFS_MAGIC_ 0x01021994

/* CRIU's page server grows its pipes to about 3.3 MiB (machine-notes). */
#define LAZY_PIPE_MIN (4u << 20)

/* The CRIU log line every run on a host without CAP_SYS_RESOURCE starts
 * with; CRIU copies it into cr_errmsg even on success (machine-notes). */
#define HARMLESS_ERROR "RLIMIT_NOFILE"

/* ===================== Configuration table (X-macro) ===================== */

/* Commands, as bits: which commands an option applies to. G marks the
 * global options, accepted before the command and in the [criu] section. */
#define C_DUMP (1u << 0)
#define C_PRE (1u << 1)
#define C_RST (1u << 2)
#define C_CHK (1u << 3)
#define C_G (1u << 4)
#define C_STATS (1u << 5)
#define C_PS (1u << 6)
#define C_MIG (1u << 7)
#define C_RCV (1u << 8)
#define C_VERIFY (1u << 9)
#define C_INSPECT (1u << 10)
#define C_DP (C_DUMP | C_PRE)
#define C_DR (C_DUMP | C_RST)
#define C_DPR (C_DUMP | C_PRE | C_RST)
#define C_DPRS (C_DPR | C_PS)
#define C_ALL (C_DUMP | C_PRE | C_RST | C_CHK | C_G | C_PS | C_MIG | C_RCV | C_VERIFY | C_INSPECT)

enum opt_type { T_STR, T_BOOL, T_UINT, T_LIST };

/*
 * One row per option: struct field, long flag, short flag, type, commands,
 * ini section ("": the section of the command, [checkpoint] [pre-dump]
 * [restore]), ini key ("": the long flag), default, the accepted words or
 * the maximum (UINT), the argument's name in --help, and the help text.
 * Everything else (struct cfg, getopt's table, the ini handler, defaults,
 * --help, docs/options.md through tests/gen-options.py) comes from here.
 */
#define CR_OPTIONS(X) \
	X(config, "config", 'c', T_STR, C_ALL, "-", "", "", "", "FILE", "ini file to read (default /etc/cr.ini when it exists; 'none' for no file)") \
	X(criu, "criu", 0, T_STR, C_ALL, "criu", "binary", "", "", "PATH", "CRIU binary (else $CR_CRIU, else criu on PATH)") \
	X(criu_socket, "criu-socket", 0, T_STR, C_ALL, "criu", "socket", "", "", "PATH", "use a running 'criu service' at PATH instead of spawning criu swrk") \
	X(log_level, "log-level", 0, T_UINT, C_ALL, "criu", "", "2", "4", "N", "CRIU log level: 0 none, 1 errors, 2 warnings, 3 info, 4 debug") \
	X(verbose, "verbose", 'v', T_BOOL, C_ALL, "criu", "", "false", "", "", "say what cr does, step by step, on stderr") \
	X(image_path, "image-path", 'D', T_STR, C_DPRS | C_RCV, "", "", "checkpoint", "", "DIR", "image directory") \
	X(work_path, "work-path", 'W', T_STR, C_DPR, "", "", "", "", "DIR", "directory for CRIU's log and stats (default: the image directory)") \
	X(parent_path, "parent-path", 0, T_STR, C_DP, "", "", "", "", "DIR", "previous pre-dump, relative to the image directory (e.g. ../pre1)") \
	X(force, "force", 'f', T_BOOL, C_DP, "", "", "false", "", "", "replace a checkpoint already at --image-path, once the new one succeeded") \
	X(leave_running, "leave-running", 'R', T_BOOL, C_DUMP, "", "", "false", "", "", "leave the tree running after the checkpoint") \
	X(tcp_established, "tcp-established", 0, T_BOOL, C_DR | C_MIG, "", "", "false", "", "", "checkpoint/restore established TCP connections") \
	X(tcp_skip_in_flight, "tcp-skip-in-flight", 0, T_BOOL, C_DUMP, "", "", "false", "", "", "skip TCP connections still being set up") \
	X(tcp_close, "tcp-close", 0, T_BOOL, C_RST, "", "", "false", "", "", "restore established TCP connections closed") \
	X(ext_unix_sk, "ext-unix-sk", 0, T_BOOL, C_DR | C_MIG, "", "", "false", "", "", "allow unix sockets connected to peers outside the tree") \
	X(shell_job, "shell-job", 0, T_BOOL, C_DR, "", "", "false", "", "", "the tree is a job of a shell (attached to a terminal)") \
	X(file_locks, "file-locks", 0, T_BOOL, C_DR | C_MIG, "", "", "false", "", "", "checkpoint/restore file locks") \
	X(link_remap, "link-remap", 0, T_BOOL, C_DUMP | C_MIG, "", "", "false", "", "", "allow link remaps of deleted files") \
	X(cg_mode, "manage-cgroups-mode", 0, T_STR, C_DPR | C_MIG, "", "", "ignore", "soft|full|strict|ignore", "MODE", "how CRIU handles cgroups (docs/cgroups.md)") \
	X(empty_ns, "empty-ns", 0, T_STR, C_DR, "", "", "", "network", "NS", "leave this namespace empty (only 'network')") \
	X(auto_dedup, "auto-dedup", 0, T_BOOL, C_DPR, "", "", "false", "", "", "free parent image pages the new dump supersedes") \
	X(network_lock, "network-lock", 0, T_STR, C_DUMP | C_MIG, "", "", "", "iptables|nftables|skip", "METHOD", "how CRIU locks the network (default: CRIU's, iptables)") \
	X(external, "external", 0, T_LIST, C_DR, "", "", "", "", "SPEC", "external resource (CRIU --external), repeatable") \
	X(root, "root", 0, T_STR, C_RST, "", "", "", "", "DIR", "root of the file system to restore into") \
	X(inherit_fd, "inherit-fd", 0, T_LIST, C_RST, "", "", "", "", "KEY:FD", "give the restored tree cr's fd FD for resource KEY, repeatable") \
	X(detach, "detach", 'd', T_BOOL, C_RST, "", "", "false", "", "", "restore and exit, printing the pid (the default)") \
	X(wait, "wait", 'w', T_BOOL, C_RST, "", "", "false", "", "", "restore as cr's child and exit with its status") \
	X(pid_file, "pid-file", 0, T_STR, C_RST, "", "", "", "", "FILE", "write the restored root's pid to FILE") \
	X(timeout, "timeout", 't', T_UINT, C_DPRS | C_CHK | C_MIG | C_RCV, "", "", "0", "86400", "SEC", "bound on the whole operation (0: none; check: 30; migrate, receive: each wait, see --stall-timeout); also CRIU's freeze timeout") \
	X(stall, "stall-timeout", 0, T_UINT, C_MIG | C_RCV, "migrate", "", "60", "86400", "SEC", "without --timeout: a migration step that makes no progress this long (plus 1 s per 8 MiB of the tree) ends; waits on the peer get as much again") \
	X(log_file, "log-file", 0, T_STR, C_DPRS, "", "", "", "", "NAME", "CRIU log file name in the work directory (default dump.log, pre-dump.log, restore.log, page-server.log)") \
	X(page_server, "page-server", 0, T_STR, C_DP | C_RST, "", "", "", "", "HOST:PORT", "send pages to this page server; --lazy-pages: serve them on PORT, or fetch them from HOST:PORT") \
	X(lazy_pages, "lazy-pages", 0, T_BOOL, C_DUMP | C_RST, "", "", "false", "", "", "post-copy: pages move after the tree runs again (with --page-server)") \
	X(address, "address", 0, T_STR, C_PS, "", "", "0.0.0.0", "", "ADDR", "page-server: the address to listen on") \
	X(port, "port", 0, T_UINT, C_PS, "", "", "0", "65535", "PORT", "page-server: the port (0: any; the one chosen is printed)") \
	X(cgroup, "cgroup", 0, T_STR, C_DPR | C_MIG | C_RCV, "cgroup", "path", "", "", "PATH", "cgroupfs directory: checkpoint the tree in it, or restore into it") \
	X(freeze, "freeze", 0, T_BOOL, C_DP | C_MIG, "cgroup", "", "false", "", "", "freeze through the cgroup freezer (default: on with --cgroup)") \
	X(allow_foreign, "allow-foreign", 0, T_BOOL, C_DP | C_MIG, "cgroup", "", "false", "", "", "freeze even though the cgroup holds processes outside the tree") \
	X(remove_cgroup, "remove-cgroup", 0, T_BOOL, C_DUMP, "cgroup", "remove", "false", "", "", "remove the emptied --cgroup directories after a checkpoint that ended the tree") \
	X(hook, "hook", 0, T_LIST, C_DPR, "-", "", "", "", "EVENT=CMD", "run CMD with /bin/sh -c at CRIU's EVENT ([hooks] EVENT = CMD), repeatable") \
	X(hook_timeout, "hook-timeout", 0, T_UINT, C_DPR, "hooks", "timeout", "60", "86400", "SEC", "a hook running longer is killed and fails") \
	X(print_stats, "print-stats", 0, T_BOOL, C_DPR, "", "", "false", "", "", "print cr's and CRIU's statistics afterwards (stderr)") \
	X(json, "json", 0, T_BOOL, C_DPR | C_CHK | C_STATS | C_MIG | C_VERIFY | C_INSPECT, "", "", "false", "", "", "the result as one JSON document on stdout") \
	X(no_verify, "no-verify", 0, T_BOOL, C_RST, "", "", "false", "", "", "restore without checking the images against their manifest (cr-manifest)") \
	X(status_fd, "status-fd", 0, T_UINT, C_DUMP | C_PS, "", "", "0", "1048576", "FD", "write one NUL byte to FD when the page server is ready, then close it") \
	X(via, "via", 0, T_STR, C_MIG, "migrate", "", "", "", "CMD", "migrate over CMD's stdin/stdout (split on blanks, no shell), e.g. ssh root@b cr receive --stdio") \
	X(to, "to", 0, T_STR, C_MIG, "migrate", "", "", "", "ADDR:PORT", "migrate to 'cr receive --listen' at this numeric address (trusted networks)") \
	X(mode, "mode", 0, T_STR, C_MIG, "migrate", "", "auto", "auto|stop-copy|pre-copy|post-copy|pre-copy+post-copy", "MODE", "migration mode (docs/migration.md)") \
	X(max_iter, "max-iterations", 0, T_UINT, C_MIG, "migrate", "", "8", "64", "N", "pre-copy: at most N pre-dumps before the final dump") \
	X(min_pages, "min-pages", 0, T_UINT, C_MIG, "migrate", "", "64", "1000000000", "PAGES", "pre-copy: a pre-dump that writes no more pages than this is the last") \
	X(min_shrink, "min-shrink", 0, T_UINT, C_MIG, "migrate", "", "10", "100", "PERCENT", "pre-copy: so is one that shrank by less than this from the one before") \
	X(listen, "listen", 0, T_STR, C_RCV, "migrate", "", "", "", "ADDR:PORT", "receive: listen on this numeric address until one sender presents the token") \
	X(grace, "grace-time", 0, T_UINT, C_RCV, "migrate", "", "5", "600", "SEC", "receive --listen: a connection has this long to present the sender's HELLO (0 counts as 1)") \
	X(max_unauth, "max-unauthenticated", 0, T_UINT, C_RCV, "migrate", "", "4", "64", "N", "receive --listen: connections that may wait for their HELLO at once; one more is told busy (0 counts as 1)") \
	X(exit_bad_peer, "exit-on-bad-peer", 0, T_BOOL, C_RCV, "migrate", "", "false", "", "", "receive --listen: the first peer decides; a bad one (silent, wrong token, garbage, over the cap) ends the receiver, exit 1") \
	X(use_stdio, "stdio", 0, T_BOOL, C_RCV, "migrate", "", "false", "", "", "receive: talk to the sender on stdin/stdout (for --via)") \
	X(tmpfs, "tmpfs", 0, T_STR, C_RCV, "migrate", "", "auto", "auto|yes|no", "WHEN", "receive: keep the incoming images in a private tmpfs (auto: when twice the tree fits in MemAvailable)") \
	X(token_file, "token-file", 0, T_STR, C_MIG | C_RCV, "migrate", "", "", "", "FILE", "the shared secret a --to sender must present") \
	X(cg_ctrls, "cgroup-controllers", 0, T_STR, C_RST | C_RCV, "cgroup", "controllers", "", "", "LIST", "restore: v1 hierarchies to create the cgroup in, or v2 controllers to enable (a,b)")

struct list {
	const char *v[MAX_LIST];
	int n;
	bool from_cli;	/* the command line replaces the ini file's list */
};

#define FIELD_T_STR const char *
#define FIELD_T_BOOL bool
#define FIELD_T_UINT unsigned
#define FIELD_T_LIST struct list

enum opt_id {
#define X(f, l, s, t, c, sec, key, def, ch, meta, help) O_##f,
	CR_OPTIONS(X)
#undef X
	O_COUNT
};

struct cfg {
#define X(f, l, s, t, c, sec, key, def, ch, meta, help) FIELD_##t f;
	CR_OPTIONS(X)
#undef X
	bool set[O_COUNT];	/* given by the user (ini or flag), not defaulted */
	unsigned cmd;		/* the command's C_* bit */
	mode_t umask0;		/* the caller's umask, for hooks (cr itself runs with 077) */
	int sigfd;		/* sig_setup()'s signalfd, once made */
	/* set by migrate/receive before they reuse cmd_dump/cmd_restore: */
	bool migrating;
	int ps_fd;		/* the page-server socket CRIU gets as ps.fd (--ps-socket); -1 */
	const char *criu_conf;	/* a CRIU config file with options RPC cannot send, or NULL */
	int (*hold)(void *arg, const char *event, int pid, const char *img);	/* at CRIU's events; -1 aborts */
	void *hold_arg;
	/* while cr waits for CRIU: called when watch_fd is readable (ready)
	 * or once a second (not); -1 ends the watch */
	int (*watch)(void *arg, bool ready);
	int watch_fd;
	const char *phase;	/* what a migration is doing, for a stall's message */
	unsigned stall_s;	/* a migration's bound on a wait without progress (mig_stall) */
	bool abandoned;		/* cr itself made CRIU give up (migrate: the target failed) */
	stats_entry last;	/* cmd_dump's statistics */
	pid_t restored;		/* cmd_restore's result */
	pid_t lazyd;		/* cmd_restore's criu lazy-pages, still fetching; 0 */
	unsigned long long *moved;	/* the pump's byte count: the stream is busy */
	void (*cleanup)(void);	/* run by quit() (die, usage_die) */
	const char *cmd_name;
	int nargs;
	char **args;
};

/*
 * The table's strings, one NUL-separated string per option: six pointers
 * per row would cost 2.9 KB of the size budget. opt_f() picks a field.
 */
struct opt_desc {
	const char *s;	/* "name\0section\0key\0default\0choices\0meta\0help" */
	unsigned short cmds;
	char shrt;
	unsigned char type;
};

enum { F_NAME, F_SECTION, F_KEY, F_DEF, F_CHOICES, F_META, F_HELP };

static const struct opt_desc opts[O_COUNT] = {
#define X(f, l, s, t, c, sec, key, def, ch, meta, help) \
	[O_##f] = { l "\0" sec "\0" key "\0" def "\0" ch "\0" meta "\0" help, c, s, t },
	CR_OPTIONS(X)
#undef X
};

static const char *opt_f(int id, int field)
{
	const char *p = opts[id].s;

	while (field--)
		p += strlen(p) + 1;
	return p;
}

/* The ini key: an empty one is the long flag's name. */
static const char *opt_key(int id)
{
	const char *k = opt_f(id, F_KEY);

	return *k ? k : opts[id].s;
}

/* ============================== Global state ============================= */

static const char *prog = "cr";
static struct cfg cfg;	/* written while parsing only; read-only after main's checks */

/* Plain spans (musl's build 32-byte tables: 0.5 KB for two calls). */
static size_t str_span(const char *s, const char *set, bool in)
{
	size_t n = 0;

	while (s[n] && !strchr(set, s[n]) == !in)
		n++;
	return n;
}

#define strspn(s, set) str_span(s, set, true)
#define strcspn(s, set) str_span(s, set, false)

/* strtok_r on them, as musl's (which would bring musl's spans back) */
static char *str_tok(char *s, const char *sep, char **save)
{
	char *e;

	if (!s && !(s = *save))
		return NULL;
	s += strspn(s, sep);
	if (!*s)
		return *save = NULL;
	e = s + strcspn(s, sep);
	*save = *e ? e + 1 : NULL;
	*e = '\0';
	return s;
}

#define strtok_r str_tok

/* fcntl and socketpair as the system calls they are: musl's wrappers
 * emulate what kernels before 2.6.27 lacked (0.6 KB) */
#define fcntl(...) syscall(SYS_fcntl, __VA_ARGS__)
#define socketpair(...) syscall(SYS_socketpair, __VA_ARGS__)
/* and the stat family (musl's fstatat: fallbacks for old kernels, 0.4 KB;
 * the kernel's struct stat is musl's on every 64-bit architecture) */
#ifdef SYS_newfstatat
#define fstatat(...) syscall(SYS_newfstatat, __VA_ARGS__)
#define fstat(fd, st) syscall(SYS_fstat, fd, st)
#define lstat(path, st) fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW)
#endif

/*
 * A printf subset (flags "-0#", width and precision with "*", the h/l/ll/z
 * modifiers, conversions d i u x c s %), writing to a buffer or an fd. musl's
 * printf carries floating point and wide characters cr never prints, about
 * 12 KB of the 100 KB budget; this is a tenth of that. The compiler still
 * checks every format against its arguments (format attribute).
 */
struct fmt_out {
	char *buf;
	size_t size, len;
};

static void fmt_put(struct fmt_out *o, const char *s, size_t n, int width, bool left, char pad)
{
	size_t w = width > 0 && (size_t)width > n ? (size_t)width - n : 0;

	for (size_t i = 0; i < w + n + w; i++) {
		char c;

		if (i < w)
			c = left ? 0 : pad;
		else if (i < w + n)
			c = s[i - w];
		else
			c = left ? ' ' : 0;
		if (!c && (i < w || i >= w + n))
			continue;
		if (o->len + 1 < o->size)
			o->buf[o->len] = c;
		o->len++;
	}
}

static void fmt_v(struct fmt_out *o, const char *f, va_list ap)
{
	for (; *f; f++) {
		bool left = false, alt = false, neg = false;
		char pad = ' ', num[32], *p = num + sizeof(num);
		int width = 0, prec = -1, lng = 0;
		unsigned long long u;
		const char *s;

		if (*f != '%') {
			size_t n = strcspn(f, "%");

			fmt_put(o, f, n, 0, false, ' ');
			f += n - 1;
			continue;
		}
		for (f++; *f == '-' || *f == '0' || *f == '#'; f++)
			*f == '-' ? (left = true) : *f == '0' ? (pad = '0') : (alt = true);
		if (*f == '*')
			width = va_arg(ap, int), f++;
		for (; *f >= '0' && *f <= '9'; f++)
			width = width * 10 + *f - '0';
		if (*f == '.') {
			prec = 0;
			if (*++f == '*')
				prec = va_arg(ap, int), f++;
			for (; *f >= '0' && *f <= '9'; f++)
				prec = prec * 10 + *f - '0';
		}
		for (; *f == 'l' || *f == 'z' || *f == 'h'; f++)
			lng += *f != 'h';
		switch (*f) {
		case 's':
			s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			fmt_put(o, s, prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s), width, left, ' ');
			continue;
		case 'c':
			num[0] = (char)va_arg(ap, int);
			fmt_put(o, num, 1, width, left, ' ');
			continue;
		case 'd':
		case 'i':
			{
				long long v = lng >= 2 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);

				neg = v < 0;
				u = neg ? 0ull - (unsigned long long)v : (unsigned long long)v;
			}
			break;
		case 'u':
		case 'x':
			u = lng >= 2 ? va_arg(ap, unsigned long long) : lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			break;
		default:	/* '%' */
			fmt_put(o, "%", 1, 0, false, ' ');
			continue;
		}
		do
			*--p = "0123456789abcdef"[u % (*f == 'x' ? 16 : 10)];
		while ((u /= (*f == 'x' ? 16 : 10)));
		if (alt && *f == 'x')
			*--p = 'x', *--p = '0';
		if (neg && pad == '0' && width > 1)
			fmt_put(o, "-", 1, 0, false, ' '), width--;
		else if (neg)
			*--p = '-';
		fmt_put(o, p, (size_t)(num + sizeof(num) - p), width, left, pad);
	}
	if (o->size)
		o->buf[o->len < o->size ? o->len : o->size - 1] = '\0';
}

__attribute__((format(printf, 3, 4))) static int xsnprintf(char *buf, size_t size, const char *f, ...)
{
	struct fmt_out o = { buf, size, 0 };
	va_list ap;

	va_start(ap, f);
	fmt_v(&o, f, ap);
	va_end(ap);
	return (int)o.len;
}

static int write_all(int fd, const void *buf, size_t len);

/* Format into a buffer and write it to fd in one write (lines from
 * concurrent processes do not interleave). -1 on a write error. */
static int vout(int fd, const char *f, va_list ap)
{
	char buf[8192];
	struct fmt_out o = { buf, sizeof(buf), 0 };

	fmt_v(&o, f, ap);
	return write_all(fd, buf, o.len < sizeof(buf) ? o.len : sizeof(buf) - 1);
}

__attribute__((format(printf, 2, 3))) static int out(int fd, const char *f, ...)
{
	va_list ap;
	int r;

	va_start(ap, f);
	r = vout(fd, f, ap);
	va_end(ap);
	return r;
}

#define snprintf xsnprintf

/* A plain strstr: musl's two-way search is 1.2 KB for the short haystacks
 * (log lines, /proc files) cr searches. */
static char *str_find(const char *h, const char *n)
{
	size_t len = strlen(n);

	for (; *h; h++)
		if (!strncmp(h, n, len))
			return (char *)h;
	return len ? NULL : (char *)h;
}

#define strstr str_find


/* =========================== Diagnostics ================================ */

/*
 * One family of messages, all "cr: " on stderr (stdout is for results: the
 * restored pid, check's report, --print-config). A format that ends in ':'
 * gets ": strerror(errno)" appended, as suckless' eprintf does. errno is
 * preserved so callers can report and then decide.
 */
/* check: cr's first warning is kept here for the report instead of going
 * to stderr, and CRIU's stderr goes to a memfd (criu_stderr) */
static bool keep_warn;
static char warn_keep[512];
static int criu_stderr = -1;

static void vmsg(const char *fmt, va_list ap)
{
	int saved = errno;
	size_t n = strlen(fmt);
	char buf[4096];
	struct fmt_out o = { buf, sizeof(buf) - 2, 0 };

	fmt_put(&o, prog, strlen(prog), 0, false, ' ');
	fmt_put(&o, ": ", 2, 0, false, ' ');
	fmt_v(&o, fmt, ap);
	o.len = strlen(buf);
	if (n && fmt[n - 1] == ':')
		o.len += (size_t)snprintf(buf + o.len, sizeof(buf) - 2 - o.len, " %s", strerror(saved));
	o.len = strlen(buf);
	if (keep_warn) {
		if (!warn_keep[0])
			snprintf(warn_keep, sizeof(warn_keep), "%s", buf + strlen(prog) + 2);
		errno = saved;
		return;
	}
	buf[o.len++] = '\n';
	write_all(2, buf, o.len);
	errno = saved;
}

__attribute__((format(printf, 1, 2))) static void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2))) static void info(const char *fmt, ...)
{
	va_list ap;

	if (!cfg.verbose || keep_warn)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

/* exit(), after cfg.cleanup: migrate and receive set it, since the
 * checkpoint and restore code they reuse may die after their own first
 * side effects (musl's atexit would bring malloc: 5 KB). */
__attribute__((noreturn)) static void quit(int code)
{
	if (cfg.cleanup)
		cfg.cleanup();
	exit(code);
}

/* Before the first side effect only (rule: die freely, then unwind). */
__attribute__((format(printf, 2, 3), noreturn)) static void die_code(int code, const char *fmt, ...)
{
	va_list ap;

	keep_warn = false;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	quit(code);
}

#define die(...) die_code(EXIT_FAIL, __VA_ARGS__)
#define usage_die(...) die_code(EXIT_USAGE, __VA_ARGS__)

/* ======================= Small utilities (fd, str, num) ================== */

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* Parse a whole decimal number in [0, max]; -1 on anything else. */
static long long parse_num(const char *s, long long max)
{
	long long v = 0;

	if (!*s || strlen(s) > 18)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v <= max ? v : -1;
}

/* Is word one of the '|'-separated choices? */
static bool in_choices(const char *word, const char *choices)
{
	size_t n = strlen(word);

	for (const char *p = choices; *p;) {
		const char *e = strchr(p, '|');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (n && len == n && !strncmp(p, word, n))
			return true;
		p += len + (e != NULL);
	}
	return false;
}

/* 32-bit architectures (armhf): musl 1.2's time_t is 64 bits, which the
 * kernel's clock_gettime64 fills; clock_gettime has no such number there */
#ifdef SYS_clock_gettime64
#define SYS_clock_gettime_ SYS_clock_gettime64
#else
#define SYS_clock_gettime_ SYS_clock_gettime
#endif

static int64_t now_us(void)
{
	struct timespec ts;

	/* the system call itself: musl's vDSO lookup costs 1 KB of the budget,
	 * and cr reads the clock a few hundred times per run at most */
	syscall(SYS_clock_gettime_, CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
	return now_us() / 1000;
}

/* "SIGINT" for the signals cr meets, "signal N" for the rest (musl's
 * strsignal table is 1.4 KB). Not reentrant: one name per message. */
static const char *sig_name(int sig)
{
	static const char names[] = "HUP\0INT\0QUIT\0ILL\0TRAP\0ABRT\0BUS\0FPE\0KILL\0USR1\0SEGV\0USR2\0PIPE\0ALRM\0TERM";
	static char buf[16];
	const char *p = names;

	if (sig < 1 || sig > 15)
		return snprintf(buf, sizeof(buf), "signal %d", sig), buf;
	for (int i = 1; i < sig; i++)
		p += strlen(p) + 1;
	snprintf(buf, sizeof(buf), "SIG%s", p);
	return buf;
}

/* faccessat(2) without flags: the system call itself (musl's wrapper
 * brings its AT_EACCESS emulation, a clone()d child, which cr never needs). */
static int faccessat_(int dirfd, const char *path, int mode)
{
	return (int)syscall(SYS_faccessat, dirfd, path, mode);
}

/* A new directory cr-NAME.XXXXXX in $TMPDIR (else /tmp): mkdtemp(3)
 * without musl's clock-seeded name generator. The last six characters
 * become the pid and a counter, and mkdir(2) (atomic, 0700) takes the
 * first name nobody has. */
static char *mkdtemp_(char *buf, size_t size, const char *name)
{
	const char *t = getenv("TMPDIR");
	size_t n = (size_t)snprintf(buf, size, "%s/cr-%s.", t && *t ? t : "/tmp", name);

	errno = ENAMETOOLONG;
	for (unsigned i = 0; n + 7 <= size && i < 100000; i++) {
		snprintf(buf + n, 7, "%06x", ((unsigned)getpid() * 4099u + i + (unsigned)now_us()) & 0xffffff);
		if (!mkdir(buf, 0700))
			return buf;
		if (errno != EEXIST)
			return NULL;
	}
	return NULL;
}

/* close() that keeps errno, for error paths. */
static void close_keep(int fd)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read at most size-1 bytes of dirfd/path into buf, NUL-terminated.
 * Returns the length, or -1. */
static ssize_t read_file_at(int dirfd, const char *path, char *buf, size_t size)
{
	size_t len = 0;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close_keep(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	return (ssize_t)len;
}

/*
 * Directory entries straight from getdents64, without opendir's heap:
 * cr links no malloc at all. Calls fn for each name but "." and "..";
 * stops early when fn returns non-zero and returns that value, or -1 on
 * error.
 */
struct linux_dirent64_ {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

static int dir_each(int fd, int (*fn)(int fd, const char *name, void *arg), void *arg)
{
	char buf[4096] __attribute__((aligned(8)));
	long n;

	lseek(fd, 0, SEEK_SET);	/* from the start, also the second time round */
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < n;) {
			struct linux_dirent64_ *de = (struct linux_dirent64_ *)(buf + off);
			int r;

			off += de->reclen;
			if (str_eq(de->name, ".") || str_eq(de->name, ".."))
				continue;
			if ((r = fn(fd, de->name, arg)))
				return r;
		}
	return n < 0 ? -1 : 0;
}

static int rm_rf_at(int dirfd, const char *name);

static int rm_rf_entry(int fd, const char *name, void *arg)
{
	if (rm_rf_at(fd, name))
		*(int *)arg = -1;
	return 0;
}

/* Remove dirfd/name and everything below it, without following symlinks.
 * (Mutual recursion with rm_rf_entry, hence the declaration above.) */
static int rm_rf_at(int dirfd, const char *name)
{
	int fd, ret = 0;

	if (!unlinkat(dirfd, name, 0) || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (dir_each(fd, rm_rf_entry, &ret))
		ret = -1;
	close(fd);
	if (unlinkat(dirfd, name, AT_REMOVEDIR))
		ret = -1;
	return ret;
}

/* mkdir -p with mode for every directory created. The topmost directory
 * it created goes into created (PATH_MAX bytes; "" if none), so a failed
 * operation can take back what it made. */
static int mkdir_p(const char *path, mode_t mode, char *created)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (created)
		created[0] = '\0';
	if (len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		char c = *p;

		if (c && c != '/')
			continue;
		*p = '\0';
		/* NAME/.. names something only if NAME exists: never make it */
		if (c && !strncmp(p + 1, "..", 2) && (!p[3] || p[3] == '/')) {
			if (access(buf, F_OK))
				return -1;
		} else if (!mkdir(buf, mode)) {
			chmod(buf, mode);	/* whatever the umask (cgroups want 0755) */
			if (created && !created[0])
				memcpy(created, buf, (size_t)(p - buf) + 1);
		} else if (errno != EEXIST)
			return -1;
		if (!c)
			return 0;
		*p = '/';
	}
}

static int stop_at_first(int fd, const char *name, void *arg)
{
	(void)fd, (void)name, (void)arg;
	return 1;
}

/* Is the directory at dirfd/name empty? 1 yes, 0 no, -1 error. */
static int dir_is_empty(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = dir_each(fd, stop_at_first, NULL);
	close(fd);
	return r < 0 ? -1 : !r;
}

/* A decimal or (base 16) hex number at s, up to the first other character. */
static unsigned long long scan_num(const char *s, int base)
{
	unsigned long long v = 0;

	for (;; s++) {
		int d = *s >= '0' && *s <= '9' ? *s - '0' : base == 16 && (*s | 32) >= 'a' && (*s | 32) <= 'f' ? (*s | 32) - 'a' + 10 : -1;

		if (d < 0)
			return v;
		if (v > (~0ull - (unsigned)d) / (unsigned)base)
			return ~0ull;	/* saturate: a wrapped number could pass for a small one */
		v = v * (unsigned)base + (unsigned)d;
	}
}

static int ip_parse(const char *s, uint8_t *a);

/* Split "HOST:PORT" or "[V6]:PORT" into host (if wanted) and port. */
static int parse_hostport(const char *s, char *host, int *port)
{
	const char *colon = strrchr(s, ':'), *h = s;
	size_t hl;
	long long p = colon ? parse_num(colon + 1, 65535) : -1;

	if (p <= 0)
		return -1;
	hl = (size_t)(colon - s);
	if (*h == '[' && hl >= 2 && s[hl - 1] == ']')
		h++, hl -= 2;
	if (!hl || hl > 63)
		return -1;
	if (host)
		snprintf(host, 64, "%.*s", (int)hl, h);
	if (port)
		*port = (int)p;
	return 0;
}

/*
 * Buffers of 256 KB and more are not static: main reserves one mapping
 * before any side effect, and each buffer is carved from it when first
 * needed (BIG). The binary's own data then stays inside the megabyte that
 * aarch64's tiny code model reaches: cr-aarch64 is 6.5 KB smaller for it.
 * Untouched pages cost nothing; a fork copies them on write, as it would
 * static ones.
 */
#define BIG_RESERVE (96u << 20)
static struct {
	uint8_t *p;
	size_t used;
} big_a;

static void *big_map(size_t n)
{
	void *p;

	n = (n + 4095) & ~(size_t)4095;
	if (big_a.p && big_a.used + n <= BIG_RESERVE)
		return big_a.used += n, big_a.p + big_a.used - n;
	/* the fuzz harnesses, which do not go through main */
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		die("cannot map %zu bytes:", n);
	return p;
}
#define BIG(p, n) ((p) ? (p) : ((p) = big_map(n)))

/* Strings that outlive the line inih handed them in: a bump arena as big
 * as the largest config file, so it cannot run out and needs no malloc. */
static size_t str_used;	/* (the ini fuzz harness resets it per input) */

static const char *str_keep(const char *s)
{
	static char *arena_m;
	char *const arena = BIG(arena_m, MAX_CONFIG_SIZE + 1);
	size_t len = strlen(s) + 1;
	char *p = arena + str_used;

	if (len > (MAX_CONFIG_SIZE + 1) - str_used)
		return NULL;
	memcpy(p, s, len);
	str_used += len;
	return p;
}

/* The absolute path of an open file, for messages (what realpath would
 * give, without the heap realpath uses). */
static int fd_path(int fd, char *buf, size_t size)
{
	char link[32];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size - 1);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Split path into its parent directory and last component, dropping
 * trailing slashes: "a/b/" -> "a", "b"; "b" -> ".", "b"; "/b" -> "/", "b". */
static int split_path(const char *path, char *dir, size_t dsize, char *base, size_t bsize)
{
	size_t len = strlen(path), blen;
	char *slash;

	while (len > 1 && path[len - 1] == '/')
		len--;
	if (!len || len >= dsize)
		return -1;
	memcpy(dir, path, len);
	dir[len] = '\0';
	slash = strrchr(dir, '/');
	blen = strlen(slash ? slash + 1 : dir);
	if (!blen || blen >= bsize)
		return -1;
	memcpy(base, slash ? slash + 1 : dir, blen + 1);
	if (!slash)
		memcpy(dir, ".", 2);
	else
		slash[slash == dir] = '\0';
	if (str_eq(base, ".") || str_eq(base, ".."))
		return -1;
	return 0;
}

/* ================ Configuration: defaults, ini, argv, checks ============= */

/* CRIU's notification names a hook can be attached to (criu-rpc.md 4). */
static const char hook_events[] = "pre-dump\0post-dump\0network-lock\0network-unlock\0pre-restore\0post-restore\0"
				   "setup-namespaces\0post-setup-namespaces\0pre-resume\0post-resume\0status-ready\0";

static bool hook_event_known(const char *ev, size_t len)
{
	for (const char *e = hook_events; *e; e += strlen(e) + 1)
		if (strlen(e) == len && !strncmp(e, ev, len))
			return true;
	return false;
}



/*
 * Store one value in cfg. `where` names the source for messages: "--flag"
 * or "FILE:LINE: key". Returns 0, or -1 after printing why (the caller
 * decides how to exit). Every string is checked here once, so nothing later
 * has to wonder about control characters or lengths.
 */
static int cfg_set(enum opt_id id, const char *val, const char *where, bool cli)
{
	const struct opt_desc *o;
	const char *choices;
	void *field = NULL;
	long long n;

	switch (id) {
#define X(f, l, s, t, c, sec, key, def, ch, meta, help) \
	case O_##f: \
		field = &cfg.f; \
		break;
		CR_OPTIONS(X)
#undef X
	case O_COUNT:
		break;
	}
	for (const unsigned char *p = (const unsigned char *)val; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			warn("%s: the value contains a control character", where);
			return -1;
		}
	if (strlen(val) > MAX_VALUE) {
		warn("%s: the value is longer than %d bytes", where, MAX_VALUE);
		return -1;
	}
	if (id == O_COUNT) {	/* a positional argument: only checked */
		if (!*val) {
			warn("%s: empty", where);
			return -1;
		}
		return 0;
	}
	o = &opts[id];
	choices = opt_f(id, F_CHOICES);
	/* the syntax of values whose form is fixed, checked here so that an
	 * ini file's mistakes are reported at their FILE:LINE, whichever
	 * command's section they are in */
	char host[64];
	uint8_t ip[16];

	/* migrate's and receive's HOST is numeric: cr has no resolver */
	if ((id == O_page_server || id == O_to || id == O_listen) && *val &&
	    (parse_hostport(val, host, NULL) || (id != O_page_server && !ip_parse(host, ip)))) {
		warn("%s: \"%s\": expected HOST:PORT (PORT 1-65535; [v6addr]:PORT%s)", where, val,
		     id != O_page_server ? "; HOST a numeric IPv4 or IPv6 address" : "");
		return -1;
	}
	if (id == O_image_path && !*val) {
		warn("%s: empty (give a directory)", where);
		return -1;
	}
	if (id == O_inherit_fd) {
		const char *colon = strrchr(val, ':');

		if (!colon || colon == val || parse_num(colon + 1, INT_MAX) < 0 || colon - val > 255) {
			warn("%s: \"%s\": expected KEY:FD (e.g. pipe:[12345]:3), KEY at most 255 bytes", where, val);
			return -1;
		}
	}
	if (o->type == T_BOOL) {
		if (in_choices(val, "true|yes|on|1"))
			*(bool *)field = true;
		else if (in_choices(val, "false|no|off|0"))
			*(bool *)field = false;
		else {
			warn("%s: \"%s\" is not a boolean (true/false, yes/no, on/off, 1/0)", where, val);
			return -1;
		}
	} else if (o->type == T_UINT) {
		if ((n = parse_num(val, (long long)scan_num(choices, 10))) < 0) {
			warn("%s: \"%s\" is not a number from 0 to %s", where, val, choices);
			return -1;
		}
		*(unsigned *)field = (unsigned)n;
	} else if (o->type == T_LIST) {
		struct list *l = field;

		if (cli && !l->from_cli && id != O_hook) {	/* hooks: per event, the flag wins */
			l->n = 0;
			l->from_cli = true;
		}
		if (!*val) {
			warn("%s: empty value", where);
			return -1;
		}
		if (l->n == MAX_LIST) {
			warn("%s: more than %d values", where, MAX_LIST);
			return -1;
		}
		l->v[l->n++] = val;
	} else {
		if (*choices && *val && !in_choices(val, choices)) {
			warn("%s: \"%s\" is not one of %s", where, val, choices);
			return -1;
		}
		*(const char **)field = val;
	}
	cfg.set[id] = true;
	return 0;
}

static void cfg_defaults(void)
{
	for (int i = 0; i < O_COUNT; i++)
		if (opts[i].type != T_LIST && cfg_set((enum opt_id)i, opt_f(i, F_DEF), "default", false))
			abort();
	memset(cfg.set, 0, sizeof(cfg.set));
}

/* The ini sections, and the commands whose options they hold. */
static const struct {
	const char *name;
	unsigned cmd;
} sections[] = {
	{ "criu", C_G },
	{ "cgroup", C_G },
	{ "hooks", C_G },
	{ "checkpoint", C_DUMP },
	{ "pre-dump", C_PRE },
	{ "restore", C_RST },
	{ "page-server", C_PS },
	{ "migrate", C_MIG | C_RCV },
};

struct ini_ctx {
	const char *file;
	unsigned section;	/* C_* of the current section, 0 before the first */
	bool reported;		/* the handler printed why it stopped */
	char where[PATH_MAX + 64];
};

/*
 * inih handler: one call per key, and one per section header (name NULL).
 * Unknown sections and keys are errors, as are keys that belong to another
 * section. A key is applied when its section is global or is the running
 * command's; the others are still checked, so a typo in [restore] is
 * reported while checkpointing too. The ini file is read before the command
 * line's values are applied, so flags win.
 */
static int cfg_ini_key(struct ini_ctx *ctx, const char *section, const char *name, const char *value, int lineno)
{
	const char *copy;

	if (!name) {
		ctx->section = 0;
		for (size_t i = 0; i < ARRAY_LEN(sections); i++)
			if (str_eq(section, sections[i].name))
				ctx->section = sections[i].cmd;
		if (!ctx->section)
			warn("%s:%d: unknown section [%s] (known: criu, cgroup, hooks, migrate, checkpoint, pre-dump, restore, page-server)",
			     ctx->file, lineno, section);
		return ctx->section != 0;
	}
	if (!ctx->section) {
		warn("%s:%d: key \"%s\" outside any section", ctx->file, lineno, name);
		return 0;
	}
	if (str_eq(section, "hooks") && hook_event_known(name, strlen(name))) {
		/* [hooks] EVENT = COMMAND is --hook EVENT=COMMAND */
		char buf[MAX_VALUE + 64];

		snprintf(ctx->where, sizeof(ctx->where), "%s:%d: %s", ctx->file, lineno, name);
		if (strlen(value) > MAX_VALUE - strlen(name) - 1 || !*value) {
			warn("%s: %s hook command", ctx->where, *value ? "over-long" : "empty");
			return 0;
		}
		snprintf(buf, sizeof(buf), "%s=%s", name, value);
		if (!(copy = str_keep(buf)))
			return 0;
		return cfg_set(O_hook, copy, ctx->where, false) == 0;
	}
	for (int i = 0; i < O_COUNT; i++) {
		const struct opt_desc *o = &opts[i];
		const char *sec = opt_f(i, F_SECTION);
		bool here = *sec ? str_eq(sec, section) : (o->cmds & ctx->section) && !(ctx->section & C_G);

		if (!here || !str_eq(opt_key(i), name))
			continue;
		snprintf(ctx->where, sizeof(ctx->where), "%s:%d: %s", ctx->file, lineno, name);
		if (!(*sec ? (o->cmds & (cfg.cmd | C_G)) : (ctx->section & cfg.cmd) != 0)) {
			/* another command's section: check the value, keep nothing */
			struct cfg saved = cfg;
			int ok = cfg_set((enum opt_id)i, value, ctx->where, false) == 0;

			cfg = saved;
			return ok;
		}
		if (!(copy = str_keep(value))) {
			warn("%s: out of memory", ctx->where);
			return 0;
		}
		return cfg_set((enum opt_id)i, copy, ctx->where, false) == 0;
	}
	warn("%s:%d: unknown key \"%s\" in [%s]", ctx->file, lineno, name, section);
	return 0;
}

static int cfg_ini_handler(void *user, const char *section, const char *name, const char *value, int lineno)
{
	struct ini_ctx *ctx = user;
	int ok = cfg_ini_key(ctx, section, name, value, lineno);

	/* inih itself reports only a line number: remember who stopped */
	if (!ok)
		ctx->reported = true;
	return ok;
}

/*
 * Read the ini file. The file is read whole first so that cr, not inih,
 * reports the things inih would mangle: NUL bytes and lines longer than
 * INI_MAX_LINE. Run as root, cr refuses a file that another user could have
 * written: it decides which binary cr executes as root.
 */
static void cfg_load_ini(const char *file, bool must_exist)
{
	static char *buf_m;
	char *const buf = BIG(buf_m, MAX_CONFIG_SIZE + 1);
	struct ini_ctx ctx = { .file = file };
	struct stat st;
	ssize_t len;
	int fd, line = 1, col = 0, r;

	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (!must_exist && errno == ENOENT)
			return;
		usage_die("config %s:", file);
	}
	if (fstat(fd, &st))
		usage_die("config %s:", file);
	if (!S_ISREG(st.st_mode))
		usage_die("config %s: not a regular file", file);
	if (geteuid() == 0 && (st.st_uid != 0 || (st.st_mode & 022)))
		usage_die("config %s: %s; cr runs as root and takes commands from this file (chown root, chmod go-w)",
			  file, st.st_uid != 0 ? "owned by another user" : "writable by group or others");
	close(fd);
	len = read_file_at(AT_FDCWD, file, buf, (MAX_CONFIG_SIZE + 1));
	if (len < 0)
		usage_die("config %s:", file);
	if (len == MAX_CONFIG_SIZE)
		usage_die("config %s: larger than %d bytes", file, MAX_CONFIG_SIZE - 1);
	for (ssize_t i = 0; i < len; i++, col++) {
		if (buf[i] == '\0')
			usage_die("%s:%d: NUL byte in the file", file, line);
		if (col >= INI_MAX_LINE - 2)
			usage_die("%s:%d: line longer than %d bytes", file, line, INI_MAX_LINE - 2);
		if (buf[i] == '\n')
			line++, col = -1;
	}
	r = ini_parse_string(buf, cfg_ini_handler, &ctx);
	if (r > 0 && !ctx.reported)
		usage_die("%s:%d: cannot parse this line (expected [section] or key = value)", file, r);
	if (r != 0)
		exit(EXIT_USAGE);
}

/* ============================ Usage and help ============================= */

static const struct cmd_desc {
	const char *name;
	unsigned bit;
	const char *args;
	const char *help;
} cmds[] = {
	{ "checkpoint", C_DUMP, "PID", "checkpoint the process tree rooted at PID (alias: dump)" },
	{ "pre-dump", C_PRE, "PID", "dump the tree's memory while it keeps running, for a later checkpoint" },
	{ "restore", C_RST, "", "restore a checkpointed tree" },
	{ "check", C_CHK, "", "report what works on this host (CRIU, kernel, cgroups)" },
	{ "stats", C_STATS, "DIR", "print the CRIU statistics kept in a work or image directory" },
	{ "verify", C_VERIFY, "DIR", "check a checkpoint (and its pre-dump chain) against its manifest" },
	{ "inspect", C_INSPECT, "DIR", "show what a checkpoint holds: processes, memory, files, sockets, cgroup" },
	{ "page-server", C_PS, "", "receive the pages of a (pre-)dump sent with --page-server" },
	{ "migrate", C_MIG, "PID", "move a live tree to another host running 'cr receive'" },
	{ "receive", C_RCV, "", "the target side of 'cr migrate'" },
	{ "version", C_G, "", "print cr's version" },
};

static void usage_options(int f, unsigned bit)
{
	for (int i = 0; i < O_COUNT; i++) {
		const struct opt_desc *o = &opts[i];
		const char *meta = opt_f(i, F_META), *def = opt_f(i, F_DEF);
		char flag[64];

		if (!(o->cmds & bit))
			continue;
		snprintf(flag, sizeof(flag), "%c%c%c --%s%s%s", o->shrt ? '-' : ' ', o->shrt ? o->shrt : ' ',
			 o->shrt ? ',' : ' ', o->s, *meta ? " " : "", meta);
		out(f, "  %-32s %s", flag, opt_f(i, F_HELP));
		if (o->type != T_BOOL && o->type != T_LIST && def[0] && !(bit == C_RCV && i == O_image_path))
			out(f, " [%s]", def);	/* receive: a new $TMPDIR/cr-receive.* by default */
		out(f, "\n");
	}
}

static void usage(int f, const struct cmd_desc *c)
{
	if (c) {
		out(f, "Usage: %s %s [OPTIONS]%s%s\n\n%s.\n\nOptions:\n", prog, c->name, c->args[0] ? " " : "",
			c->args, c->help);
		usage_options(f, c->bit);
		out(f, "  -h, --help                       show this help\n");
		return;
	}
	out(f, "Usage: %s [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n\n"
		   "Checkpoint, pre-dump and restore Linux process trees through CRIU's RPC.\n\nCommands:\n",
		prog);
	for (size_t i = 0; i < ARRAY_LEN(cmds); i++)
		out(f, "  %-12s %s\n", cmds[i].name, cmds[i].help);
	out(f, "\nGlobal options (also accepted after the command):\n");
	usage_options(f, C_G);
	out(f, "  -h, --help                       show this help; COMMAND --help shows its options\n"
		   "  -V, --version                    print cr's version\n\n"
		   "Exit status: 0 success, 1 the operation failed, 2 usage or configuration error;\n"
		   "restore --wait exits with the restored tree's status (128+N for signal N).\n");
}

static void print_version(void)
{
	out(1, "cr %s (CRIU RPC client; nanopb %s, inih r%s, static musl)\n", CR_VERSION, "0.4.7", "59");
}

/* ================================ argv =================================== */


struct argv_val {
	int id;
	const char *val;
	const char *name;
};

/* Record one option value, checking it belongs where it was given. */
static void cfg_argv_add(struct argv_val *vals, int *n, int id, const char *val, bool in_cmd)
{
	if (!in_cmd && !(opts[id].cmds & C_G))
		usage_die("option --%s belongs after the command (%s COMMAND --%s ...)", opts[id].s, prog,
			  opts[id].s);
	if (in_cmd && !(opts[id].cmds & (cfg.cmd | C_G)))
		usage_die("option --%s does not apply to %s", opts[id].s, cfg.cmd_name);
	if (*n == MAX_ARGS)	/* clustered short options: more values than words */
		usage_die("more than %d option values", MAX_ARGS);
	vals[(*n)++] = (struct argv_val){ id, val, opts[id].s };
}

static void cfg_help(bool in_cmd)
{
	const struct cmd_desc *cd = NULL;

	for (size_t i = 0; in_cmd && i < ARRAY_LEN(cmds); i++)
		if (cmds[i].bit == cfg.cmd)
			cd = &cmds[i];
	usage(1, cd && cd->bit != C_G ? cd : NULL);
	exit(EXIT_OK);
}

/*
 * Parse the command line: global options up to the command word, then the
 * command's options and arguments in any order ("--" ends the options).
 * Long options take "--name value" or "--name=value" (booleans only the
 * latter, and default to true); short ones "-x value", "-xvalue", and
 * booleans cluster ("-Rv"). Long names must be given in full. Values are
 * only recorded here; main applies them after the ini file, so that a flag
 * beats the ini file whatever their order. (Written out rather than
 * getopt_long: musl's getopt and its stdio error path cost 3 KB.)
 */
static int cfg_parse_argv(int argc, char **argv, struct argv_val *vals)
{
	static char *pos[MAX_ARGS];
	int nvals = 0, npos = 0;
	bool in_cmd = false, no_more = false;

	for (int i = 1; i < argc; i++) {
		char *a = argv[i], *eq;
		int id = -1;

		if (no_more || a[0] != '-' || !a[1]) {
			if (in_cmd) {
				pos[npos++] = a;
				continue;
			}
			cfg.cmd_name = a;	/* the command word */
			for (size_t k = 0; k < ARRAY_LEN(cmds); k++)
				if (str_eq(a, cmds[k].name))
					cfg.cmd = cmds[k].bit;
			if (str_eq(a, "dump"))
				cfg.cmd_name = "checkpoint", cfg.cmd = C_DUMP;
			if (!cfg.cmd) {
				out(2, "%s: unknown command \"%s\"\n", prog, a);
				usage(2, NULL);
				exit(EXIT_USAGE);
			}
			in_cmd = true;
			no_more = false;
			continue;
		}
		if (str_eq(a, "--")) {
			no_more = true;
			continue;
		}
		if (a[1] != '-') {
			for (char *p = a + 1; *p; p++) {
				if (*p == 'h')
					cfg_help(in_cmd);
				if (*p == 'V')
					print_version(), exit(EXIT_OK);
				for (id = O_COUNT - 1; id >= 0 && opts[id].shrt != *p; id--)
					;
				if (id < 0)
					usage_die("unknown option -%c (see %s --help)", *p, prog);
				if (opts[id].type == T_BOOL) {
					cfg_argv_add(vals, &nvals, id, "true", in_cmd);
					continue;
				}
				if (!p[1] && i + 1 >= argc)
					usage_die("option -%c needs a value (see %s --help)", *p, prog);
				cfg_argv_add(vals, &nvals, id, p[1] ? p + 1 : argv[++i], in_cmd);
				break;
			}
			continue;
		}
		eq = strchr(a, '=');
		if (!eq && str_eq(a, "--help"))
			cfg_help(in_cmd);
		if (!eq && str_eq(a, "--version"))
			print_version(), exit(EXIT_OK);
		for (id = O_COUNT - 1; id >= 0; id--)
			if (strlen(opts[id].s) == (size_t)((eq ? eq : a + strlen(a)) - a - 2) &&
			    !strncmp(opts[id].s, a + 2, strlen(opts[id].s)))
				break;
		if (id < 0)
			usage_die("unknown option %.*s (see %s --help)", (int)(eq ? eq - a : (long)strlen(a)), a, prog);
		if (!eq && opts[id].type != T_BOOL && i + 1 >= argc)
			usage_die("option %s needs a value (see %s --help)", a, prog);
		cfg_argv_add(vals, &nvals, id, eq ? eq + 1 : opts[id].type == T_BOOL ? "true" : argv[++i], in_cmd);
	}
	if (!cfg.cmd) {
		usage(2, NULL);
		exit(EXIT_USAGE);
	}
	cfg.args = pos;
	cfg.nargs = npos;
	return nvals;
}

/* ===================== Option combinations and versions ================== */

/*
 * Options that need a CRIU newer than the floor. A CRIU too old for one of
 * them would either reject the request or, worse, silently ignore the field
 * (criu-rpc.md 6.16), so cr refuses before sending anything.
 */
static int cfg_check_version(int ver)
{
	static const struct {
		enum opt_id id;
		const char *value;	/* NULL: any use of the option */
		int ver;
		const char *what;
	} gates[] = {
		{ O_network_lock, "nftables", 31600, "--network-lock nftables" },
		{ O_network_lock, "skip", 31900, "--network-lock skip" },
	};

	if (ver < CRIU_MIN_VERSION) {
		warn("CRIU %d.%d.%d is too old: cr needs CRIU %d.%d or newer", ver / 10000, ver / 100 % 100, ver % 100,
		     CRIU_MIN_VERSION / 10000, CRIU_MIN_VERSION / 100 % 100);
		return -1;
	}
	for (size_t i = 0; i < ARRAY_LEN(gates); i++) {
		const char *v = cfg.network_lock;

		if (!cfg.set[gates[i].id] || ver >= gates[i].ver || (gates[i].value && !str_eq(v, gates[i].value)))
			continue;
		warn("%s needs CRIU %d.%d or newer; this CRIU is %d.%d.%d", gates[i].what, gates[i].ver / 10000,
		     gates[i].ver / 100 % 100, ver / 10000, ver / 100 % 100, ver % 100);
		return -1;
	}
	return 0;
}

/* Is pid a live process (not a thread) other than cr and init? */
static pid_t cfg_parse_pid(const char *s)
{
	char path[64], buf[4096], *p;
	long long pid = parse_num(s, 4194304);
	long long tgid;

	if (pid <= 0)
		usage_die("\"%.40s%s\" is not a process id", s, strlen(s) > 40 ? "..." : "");
	if (pid == 1)
		usage_die("pid 1 is this namespace's init: checkpointing it would end everything under it");
	if (pid == getpid())
		usage_die("pid %lld is cr itself", pid);
	snprintf(path, sizeof(path), "/proc/%lld/status", pid);
	if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
		die("pid %lld: no such process", pid);
	p = strstr(buf, "\nTgid:");
	tgid = p ? (long long)scan_num(p + 6 + strspn(p + 6, " \t"), 10) : pid;
	if (tgid != pid)
		usage_die("pid %lld is a thread of process %lld: give the process id", pid, tgid);
	return (pid_t)pid;
}

/* One flat block of checks on option combinations, before anything is
 * touched (house style rule 13). */
static void cfg_check(void)
{
	if (cfg.cmd == C_MIG && !cfg.via[0] == !cfg.to[0])
		usage_die("migrate needs exactly one of --via CMD and --to ADDR:PORT");
	if (cfg.cmd == C_RCV && !cfg.use_stdio == !cfg.listen[0])
		usage_die("receive needs exactly one of --stdio and --listen ADDR:PORT");
	if (cfg.cmd == C_RCV && str_eq(cfg.tmpfs, "yes") && cfg.set[O_image_path])
		usage_die("receive --tmpfs yes keeps the images in memory, gone after the restore: it excludes -D, which keeps "
			  "them on disk");
	if ((cfg.cmd & (C_MIG | C_RCV)) && cfg.criu_socket[0])
		usage_die("%s needs criu swrk (CRIU reads the pages from a socket cr hands it): drop --criu-socket", cfg.cmd_name);
	if ((cfg.to[0] || cfg.listen[0]) && !cfg.token_file[0])
		usage_die("--%s needs --token-file: a plain TCP peer must prove it knows the shared secret",
			  cfg.to[0] ? "to" : "listen");
	if ((cfg.cmd & (C_DUMP | C_PRE | C_MIG)) && (cfg.nargs > 1 || (!cfg.nargs && !cfg.cgroup[0])))
		usage_die("%s needs exactly one PID, or --cgroup PATH (%s %s PID)", cfg.cmd_name, prog, cfg.cmd_name);
	if (cfg.remove_cgroup && !cfg.cgroup[0])
		usage_die("--remove-cgroup needs --cgroup: it removes that cgroup once the tree has left it");
	if (cfg.remove_cgroup && cfg.leave_running)
		usage_die("--remove-cgroup and --leave-running exclude each other: the tree stays in the cgroup");
	if (cfg.cgroup[0] && cfg.criu_socket[0] && cfg.cmd == C_RST)
		usage_die("restore --cgroup needs criu swrk (cr moves criu into the cgroup before it restores): drop --criu-socket");
	if (strspn(cfg.cg_ctrls, "abcdefghijklmnopqrstuvwxyz0123456789_=,") != strlen(cfg.cg_ctrls))
		usage_die("--cgroup-controllers \"%s\": expected a comma-separated list of controllers", cfg.cg_ctrls);
	if ((cfg.cmd & (C_STATS | C_VERIFY | C_INSPECT)) && cfg.nargs != 1)
		usage_die("%s needs exactly one DIR (%s %s DIR)", cfg.cmd_name, prog, cfg.cmd_name);
	if ((cfg.cmd & (C_STATS | C_VERIFY | C_INSPECT)) && cfg_set(O_COUNT, cfg.args[0], "DIR", true))
		exit(EXIT_USAGE);
	for (int i = 0; i < cfg.hook.n; i++) {
		const char *eq = strchr(cfg.hook.v[i], '=');

		if (!eq || !hook_event_known(cfg.hook.v[i], (size_t)(eq - cfg.hook.v[i])) || !eq[1])
			usage_die("--hook \"%s\": expected EVENT=COMMAND with EVENT one of pre-dump, post-dump, "
				  "network-lock, network-unlock, pre-restore, post-restore, setup-namespaces, "
				  "post-setup-namespaces, pre-resume, post-resume, status-ready", cfg.hook.v[i]);
	}
	if (cfg.set[O_status_fd] && (cfg.status_fd <= 2 || fcntl((int)cfg.status_fd, F_SETFD, FD_CLOEXEC) < 0))
		usage_die("--status-fd %u is not an open fd (other than stdin, stdout and stderr)", cfg.status_fd);
	if (cfg.set[O_status_fd] && cfg.cmd == C_DUMP && !cfg.lazy_pages)
		usage_die("--status-fd needs --lazy-pages on checkpoint: it reports when the page server is ready");
	if (cfg.json)
		cfg.print_stats = true;
	if (cfg.lazy_pages && !cfg.page_server[0])
		usage_die("--lazy-pages needs --page-server (checkpoint: ADDR:PORT to serve on; restore: HOST:PORT of the "
			  "checkpoint's page server)");
	if (cfg.page_server[0] && cfg.cmd == C_RST && !cfg.lazy_pages)
		usage_die("restore --page-server only makes sense with --lazy-pages");
	if (cfg.lazy_pages && cfg.criu_socket[0] && cfg.cmd == C_RST)
		usage_die("restore --lazy-pages starts criu lazy-pages itself: drop --criu-socket");
	if ((cfg.cmd & (C_RST | C_CHK | C_G | C_PS | C_RCV)) && cfg.nargs)
		usage_die("%s takes no arguments (got \"%s\")", cfg.cmd_name, cfg.args[0]);
	if (cfg.detach && cfg.wait)
		usage_die("--detach and --wait exclude each other");
	if (!cfg.max_iter)
		usage_die("--max-iterations must be 1 or more (no pre-dumps at all: --mode stop-copy)");
	if (cfg.parent_path[0] == '/')
		usage_die("--parent-path must be relative to the image directory (e.g. ../pre1), not \"%s\"",
			  cfg.parent_path);
	if (strchr(cfg.log_file, '/') || str_eq(cfg.log_file, ".") || str_eq(cfg.log_file, ".."))
		usage_die("--log-file is a file name in the work directory, not a path: \"%s\"", cfg.log_file);
	if (strlen(cfg.log_file) > 63)
		usage_die("--log-file is longer than 63 bytes");
	if (cfg.criu_socket[0] && cfg.wait)
		usage_die("--wait needs criu swrk (restore-sibling); a criu service cannot do it: drop --criu-socket");
	if (cfg.criu_socket[0] && cfg.inherit_fd.n)
		usage_die("--inherit-fd needs criu swrk; a criu service cannot do it: drop --criu-socket");
	for (int i = 0; i < cfg.inherit_fd.n; i++) {
		const char *v = cfg.inherit_fd.v[i];
		long long fd = parse_num(strrchr(v, ':') + 1, INT_MAX);

		if (fd <= 2 || fcntl((int)fd, F_GETFD) < 0)
			usage_die("--inherit-fd \"%s\": fd %lld is not open in cr (or is stdin/stdout/stderr)", v, fd);
	}
	for (int i = 0; i < cfg.external.n; i++)
		if (strlen(cfg.external.v[i]) > 511)
			usage_die("--external is longer than 511 bytes");
}

/* A signal's disposition, SIG_DFL or SIG_IGN (no handler, so no restorer):
 * the system call itself, musl's sigaction machinery being 0.7 KB. The
 * kernel's struct has a restorer field where the architecture has one. */
static void sig_disp(int s, void (*h)(int))
{
	struct {
		void (*h)(int);
		unsigned long flags;
#ifdef SA_RESTORER
		void *restorer;
#endif
		unsigned mask[2];
	} k = { h, 0 };

	syscall(SYS_rt_sigaction, s, &k, NULL, sizeof(k.mask));
}

/*
 * In a forked child, before exec: a clean signal mask and default
 * dispositions (cr blocks signals for its signalfd and ignores SIGPIPE, and
 * exec keeps both; restore needs SIGCHLD), stdin from /dev/null unless
 * keep_stdin, stdout to /dev/null or to cr's stderr. -1 on failure.
 */
static int child_prepare(bool keep_stdin, bool out_to_stderr)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		sig_disp(s, SIG_DFL);
	if (null < 0 || (!keep_stdin && dup2(null, 0) < 0) || dup2(out_to_stderr ? 2 : null, 1) < 0)
		return -1;
	return 0;
}

/* ================================ Hooks ================================== */

/* The command configured for event: the last --hook/[hooks] entry for it
 * (ini entries come first, so a flag wins), or NULL. */
static const char *hook_find(const char *event)
{
	size_t n = strlen(event);

	for (int i = cfg.hook.n - 1; i >= 0; i--)
		if (!strncmp(cfg.hook.v[i], event, n) && cfg.hook.v[i][n] == '=')
			return cfg.hook.v[i] + n + 1;
	return NULL;
}

/* What a hook sees of the operation. */
struct hook_ctx {
	const char *img;	/* where the images are now (during a checkpoint: the temporary directory) */
	const char *work;	/* the work directory */
	pid_t pid;		/* the tree's root pid, when known */
	int sigfd;		/* cr's signalfd: an interrupt kills the hook */
	int64_t deadline;	/* --timeout (now_ms() time; 0: none) also bounds hooks */
	int sig;		/* set: the interrupt that killed a hook */
};

/*
 * Run the hook for event, if any: /bin/sh -c COMMAND (the one place cr hands
 * a string to a shell) in its own process group, stdin /dev/null, stdout
 * and stderr on cr's stderr (cr's stdout is for results), with CR_EVENT,
 * CR_PID, CR_IMAGE_PATH, CR_WORK_PATH and CR_COMMAND added to cr's
 * environment (built by hand: setenv would need malloc). Children come
 * from _Fork, as everywhere in cr: cr has one thread and no atfork
 * handlers, and fork's locking brings 2.5 KB of pthread code. Returns 0 when
 * there is no hook or it exited 0; -1 when it failed, timed out (its group
 * is killed) or cr was interrupted meanwhile, after saying so.
 */
static int hook_run(struct hook_ctx *h, const char *event, int criu_pid)
{
	static char vars[5][PATH_MAX + 32];
	static const char *envp[1024];
	const char *cmd = hook_find(event);
	extern char **environ;
	int n = 0, st = 0;
	int64_t end = now_ms() + (int64_t)cfg.hook_timeout * 1000;
	pid_t child;

	if (!cmd)
		return 0;
	snprintf(vars[0], sizeof(vars[0]), "CR_EVENT=%s", event);
	snprintf(vars[1], sizeof(vars[1]), "CR_COMMAND=%s", cfg.cmd_name);
	snprintf(vars[2], sizeof(vars[2]), "CR_IMAGE_PATH=%s", h->img);
	snprintf(vars[3], sizeof(vars[3]), "CR_WORK_PATH=%s", h->work);
	snprintf(vars[4], sizeof(vars[4]), "CR_PID=%d", criu_pid ? criu_pid : (int)h->pid);
	for (char **e = environ; *e && n < (int)ARRAY_LEN(envp) - 7; e++)
		if (strncmp(*e, "CR_", 3))
			envp[n++] = *e;
	for (int i = 0; i < 5; i++)
		if (i < 4 || criu_pid || h->pid)
			envp[n++] = vars[i];
	envp[n] = NULL;
	info("hook %s: %s", event, cmd);
	child = _Fork();
	if (child == 0) {
		setpgid(0, 0);
		umask(cfg.umask0);
		if (child_prepare(false, true))
			_exit(127);
		execve("/bin/sh", (char *const[]){ "sh", "-c", (char *)cmd, NULL }, (char *const *)envp);
		_exit(127);
	}
	if (child < 0) {
		warn("hook %s: fork:", event);
		return -1;
	}
	for (;;) {
		struct signalfd_siginfo si;
		const char *why = NULL;
		int64_t t;

		if (waitpid(child, &st, WNOHANG) == child)
			break;
		if ((t = now_ms()) >= end)
			why = "timed out (--hook-timeout)";
		else if (h->deadline && t >= h->deadline)
			why = "outlived --timeout";
		else if (h->sigfd >= 0 && read(h->sigfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGCHLD)
			why = "interrupted", h->sig = (int)si.ssi_signo;
		if (why) {
			kill(-child, SIGKILL);
			kill(child, SIGKILL);
			waitpid(child, &st, 0);
			warn("hook %s %s: killed it; CRIU is told the step failed", event, why);
			return -1;
		}
		usleep(5000);
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	warn("hook %s (%s) failed: %s%d; CRIU is told the step failed", event, cmd,
	     WIFEXITED(st) ? "exit status " : "signal ", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return -1;
}

/* =========================== CRIU RPC transport ========================== */

/* One CRIU conversation: a criu swrk child on a socketpair, or a connection
 * to a criu service. */
struct rpc {
	int sk;
	pid_t pid;		/* criu swrk; 0 for a service connection */
	int ver;		/* major*10000 + minor*100 + sublevel */
	int sigfd;		/* signalfd for SIGINT, SIGTERM, SIGHUP (and SIGCHLD) */
	int64_t deadline;	/* --timeout, in now_ms() time; 0: none */
	int span_ms;		/* the deadline's length (rpc_deadline) */
	bool stall;		/* a migration without --timeout: the deadline moves on while the stream moves */
	unsigned long long seen;	/* *cfg.moved when it last moved */
	int64_t grace;		/* after an interrupt: when to stop waiting */
	int interrupted;	/* the signal that interrupted cr, 0 if none */
	bool timed_out;
	bool killed;		/* cr killed criu (timeout or grace expired) */
	int killed_polls;	/* half-second waits for its exit since */
	const char *criu;	/* the binary, for messages */
	struct hook_ctx hook;	/* for the hooks run at CRIU's notifications */
	bool post_dump;		/* cr acked post-dump: the images were complete */
	pid_t restored;		/* the pid post-restore gave */
	bool resumed;		/* cr acked pre-resume: CRIU lets the tree run */
	bool last;		/* the next VERSION/FEATURE_CHECK ends the conversation (no keep_open) */
	int status_fd;		/* --status-fd: gets "\\0" at status-ready; -1 */
};

/* The i-th of a list of NUL-separated names ("a\0b\0"), or "?" past its
 * end: a table of names without a pointer (and relocation) per entry. */
static const char *nth(const char *list, unsigned i)
{
	for (; *list && i; i--)
		list += strlen(list) + 1;
	return *list ? list : "?";
}

static const char *rpc_type_name(criu_req_type t)
{
	return nth("EMPTY\0DUMP\0RESTORE\0CHECK\0PRE_DUMP\0PAGE_SERVER\0NOTIFY\0CPUINFO_DUMP\0CPUINFO_CHECK\0"
		   "FEATURE_CHECK\0VERSION\0WAIT_PID\0PAGE_SERVER_CHLD\0SINGLE_PRE_DUMP\0", (unsigned)t);
}

/* An executable NAME on $PATH (or the usual directories) into out; the
 * paths tried go into tried. A NAME with a '/' is taken as it is. 0, or -1
 * (errno from the last access(2)). */
static int path_search(const char *name, char *out, size_t size, char *tried, size_t tsize)
{
	const char *path = getenv("PATH");

	tried[0] = '\0';
	if (strchr(name, '/'))	/* a path, not a name to look for */
		return snprintf(out, size, "%s", name), access(out, X_OK);
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (const char *p = path; *p;) {
		size_t len = strcspn(p, ":");

		snprintf(out, size, "%.*s/%s", (int)len, len ? p : ".", name);
		if (!access(out, X_OK))
			return 0;
		snprintf(tried + strlen(tried), tsize - strlen(tried), "%s%s", tried[0] ? " " : "", out);
		p += len + (p[len] == ':');
	}
	return -1;
}

/*
 * Find the criu binary: --criu, else [criu] binary, else $CR_CRIU, else
 * criu on $PATH. A value without '/' is looked up on $PATH too. The path is
 * written to out; on failure the message names everything that was tried.
 */
static int rpc_find_criu(char *out, size_t size)
{
	const char *want = cfg.criu[0] ? cfg.criu : getenv("CR_CRIU");
	const char *from = cfg.criu[0] ? (cfg.set[O_criu] ? "--criu/[criu] binary" : "") : "$CR_CRIU";
	char tried[1024];

	if (cfg.criu_socket[0]) {
		/* a running service: no binary of ours to find */
		snprintf(out, size, "%s", cfg.criu_socket);
		return 0;
	}
	if (!want || !*want)
		want = "criu", from = "PATH";
	if (!path_search(want, out, size, tried, sizeof(tried)))
		return 0;
	if (strchr(want, '/'))
		warn("criu %s (from %s):", want, from);
	else
		warn("criu not found or not executable; tried: %s. Install CRIU, or name it with --criu PATH, "
		     "[criu] binary in the ini file, or $CR_CRIU", tried);
	return -1;
}

/*
 * Start criu swrk on a SOCK_SEQPACKET socketpair (criu-rpc.md 1.1), or
 * connect to --criu-socket. The child gets a clean signal mask and default
 * dispositions (restore needs SIGCHLD; cr ignores SIGPIPE), stdout on
 * /dev/null (CHECK prints "Looks good." there), stdin too unless the tree is
 * a shell job (CRIU then hands its own stdin tty to the restored tree), and
 * cr's stderr, where CRIU reports what happens before its log is open. A
 * CLOEXEC pipe carries exec's errno back, so "cannot execute" is reported
 * as such rather than as a dead peer.
 */
static int rpc_open(struct rpc *r, const char *criu, bool keep_stdin)
{
	int sv[2], ep[2], err = 0;
	char fdarg[16];

	r->sk = -1;
	r->pid = 0;
	r->criu = criu;
	if (cfg.criu_socket[0]) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (strlen(cfg.criu_socket) >= sizeof(sa.sun_path)) {
			warn("--criu-socket %s: path too long", cfg.criu_socket);
			return -1;
		}
		strcpy(sa.sun_path, cfg.criu_socket);
		r->sk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (r->sk < 0 || connect(r->sk, (struct sockaddr *)&sa, sizeof(sa))) {
			warn("connect to criu service at %s:", cfg.criu_socket);
			close_keep(r->sk);
			r->sk = -1;
			return -1;
		}
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		warn("socketpair:");
		return -1;
	}
	if (pipe2(ep, O_CLOEXEC)) {
		warn("pipe:");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	r->pid = _Fork();
	if (r->pid == 0) {
		if (child_prepare(keep_stdin, false) || fcntl(sv[1], F_SETFD, 0) < 0 ||
		    (criu_stderr >= 0 && dup2(criu_stderr, 2) < 0))
			goto fail;
		/* --inherit-fd: CRIU uses the numbers in its own fd table, so
		 * these (only these, and only here) must survive exec */
		for (int i = 0; i < cfg.inherit_fd.n; i++)
			fcntl((int)scan_num(strrchr(cfg.inherit_fd.v[i], ':') + 1, 10), F_SETFD, 0);
		if (cfg.ps_fd >= 0)	/* ps.fd, likewise a number in CRIU's table */
			fcntl(cfg.ps_fd, F_SETFD, 0);
		snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
		execv(criu, (char *[]){ (char *)criu, "swrk", fdarg, NULL });
	fail:
		err = errno;
		(void)!write(ep[1], &err, sizeof(err));
		_exit(127);
	}
	close(sv[1]);
	close(ep[1]);
	if (r->pid < 0) {
		warn("fork:");
		close(sv[0]);
		close(ep[0]);
		return -1;
	}
	r->sk = sv[0];
	while (read(ep[0], &err, sizeof(err)) < 0 && errno == EINTR)
		;
	close(ep[0]);
	if (err) {
		errno = err;
		warn("cannot execute %s:", criu);
		close(r->sk);
		r->sk = -1;
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
		return -1;
	}
	info("started %s swrk (pid %d)", criu, r->pid);
	return 0;
}

/* Describe a wait status for messages. */
static const char *rpc_status_str(int st, char *buf, size_t size)
{
	if (WIFEXITED(st))
		snprintf(buf, size, "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(st), sig_name(WTERMSIG(st)));
	else
		snprintf(buf, size, "status %#x", st);
	return buf;
}

/*
 * End the conversation: close the socket (CRIU exits on EOF) and reap swrk.
 * Returns criu's wait status, or -1. swrk exits right after its last reply;
 * one that lingers for seconds is killed so cr never hangs here.
 */
static int rpc_close(struct rpc *r)
{
	int st = -1;

	if (r->sk >= 0)
		close(r->sk);
	r->sk = -1;
	if (r->pid <= 0)
		return -1;
	/* back off from 50 us: swrk usually exits within a millisecond, and a
	 * fixed 10 ms nap here was most of cr's own overhead (bench/) */
	for (useconds_t us = 50, total = 0; total < 10000000; total += us, us = us < 100000 ? us * 2 : us) {
		pid_t w = waitpid(r->pid, &st, WNOHANG);

		if (w == r->pid || (w < 0 && errno != EINTR))
			break;
		if (total > 5000000)
			kill(r->pid, SIGKILL);
		usleep(us);
	}
	r->pid = 0;
	return st;
}

/* Kill criu (timeout, or no wind-down after an interrupt). A service
 * connection is shut down instead: its worker fails at its next message. */
static void rpc_kill(struct rpc *r)
{
	r->killed = true;
	if (r->pid > 0)
		kill(r->pid, SIGKILL);
	else
		shutdown(r->sk, SHUT_RDWR);
}

/* --timeout bounds a conversation with CRIU as a whole. In a migration
 * without it, CRIU may take as long as it takes while the stream moves,
 * and is stopped after cfg.stall_s seconds without progress. */
static void rpc_deadline(struct rpc *r)
{
	r->stall = !cfg.timeout && cfg.stall_s;
	r->span_ms = (int)(cfg.timeout ? cfg.timeout : cfg.stall_s) * 1000;
	if (r->span_ms)
		r->deadline = now_ms() + r->span_ms;
}

/*
 * A request with nothing set but its type. Not nanopb's
 * criu_req_init_default: that initialiser is a 33 KB constant (the bounded
 * arrays) that would double the binary. The one field whose default
 * matters, the required images_dir_fd, gets its proto default (-1) here.
 */
static void rpc_req_init(criu_req *req, criu_req_type type)
{
	memset(req, 0, sizeof(*req));
	req->type = type;
	req->opts.images_dir_fd = -1;
}

/*
 * Wait until the socket is ready for events, watching the signalfd and the
 * deadlines: --timeout kills criu; an interrupt makes the next notification
 * answer a failure and, if CRIU does not finish within GRACE_MS, kills it.
 * Once criu is killed only its EOF is awaited. Returns 0 when ready, -1
 * after saying why.
 */
static int rpc_wait(struct rpc *r, short events)
{
	for (;;) {
		struct pollfd pfd[3] = { { r->sk, events, 0 }, { r->sigfd, POLLIN, 0 }, { cfg.watch ? cfg.watch_fd : -1, POLLIN, 0 } };
		int64_t t = now_ms(), until = r->deadline;
		int wait_ms = -1, n;

		/* the stream moves (no stall), or a watch owns the wait: after
		 * post-copy's COMMIT, killing CRIU would resume the source tree
		 * while the target's runs; the watch ends it safely instead */
		if (r->span_ms && ((r->stall && cfg.moved && *cfg.moved != r->seen) || cfg.watch))
			r->seen = cfg.moved ? *cfg.moved : 0, r->deadline = t + r->span_ms, until = r->deadline;
		if (r->grace && (!until || r->grace < until))
			until = r->grace;
		if (until)
			wait_ms = until > t ? (int)(until - t) : 0;
		if ((cfg.watch || r->stall) && (wait_ms < 0 || wait_ms > 1000))
			wait_ms = 1000;
		if (r->killed)
			wait_ms = 500;
		n = poll(pfd, 3, wait_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			warn("poll:");
			return -1;
		}
		if (n == 0 && r->killed) {
			/* dead, but a task it forked (a half-restored one, blocked
			 * in the kernel) still holds the socket: no EOF comes */
			if (r->pid > 0 && ++r->killed_polls < 10 && waitpid(r->pid, NULL, WNOHANG) == 0)
				continue;
			if (r->pid > 0 && r->killed_polls < 10)
				r->pid = 0;	/* reaped just now */
			else
				warn("criu did not exit after SIGKILL");
			return -1;
		}
		if (cfg.watch && !r->killed && (pfd[2].revents || n == 0)) {
			int w = cfg.watch(cfg.hold_arg, pfd[2].revents != 0);

			if (w < 0)
				cfg.watch = NULL;
			if (w == -2 && !r->interrupted) {
				/* the peer gave up: CRIU's next step is answered with
				 * failure, as after SIGTERM */
				cfg.abandoned = true;
				r->interrupted = SIGTERM;
				r->grace = now_ms() + GRACE_MS;
			}
		}
		if (n == 0 && !r->killed && ((r->deadline && now_ms() >= r->deadline) || (r->grace && now_ms() >= r->grace))) {
			if (r->deadline && now_ms() >= r->deadline) {
				r->timed_out = true;
				if (r->stall)
					warn("%s made no progress for %d s: killing criu", cfg.phase ? cfg.phase : "CRIU",
					     r->span_ms / 1000);
				else
					warn("timed out after %u s (--timeout): killing criu", cfg.timeout ? cfg.timeout : 30);
			} else
				warn("criu did not wind down within %d s of the interrupt: killing it", GRACE_MS / 1000);
			rpc_kill(r);
			continue;
		}
		if (n == 0 || (!(pfd[0].revents | pfd[1].revents)))
			continue;
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(r->sigfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGCHLD &&
			    !r->interrupted) {
				r->interrupted = (int)si.ssi_signo;
				r->grace = now_ms() + GRACE_MS;
				warn("got %s: telling CRIU to abort at its next step", sig_name((int)si.ssi_signo));
			}
			continue;
		}
		return 0;
	}
}

static int rpc_send(struct rpc *r, const criu_req *req)
{
	uint8_t buf[criu_req_size];
	pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));

	if (!pb_encode(&os, criu_req_fields, req)) {
		warn("cannot encode the %s request (a value over its bound in rpc.options?)", rpc_type_name(req->type));
		return -1;
	}
	for (;;) {
		/* never block: a peer that stops reading must not outlive
		 * --timeout or an interrupt */
		ssize_t n = send(r->sk, buf, os.bytes_written, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == (ssize_t)os.bytes_written)
			return 0;
		if (n < 0 && (errno == EAGAIN || errno == EINTR) && !rpc_wait(r, POLLOUT))
			continue;
		if (n >= 0 || errno == EAGAIN)
			errno = EMSGSIZE;
		warn("send %s request to criu:", rpc_type_name(req->type));
		return -1;
	}
}

/* One criu_resp from a datagram's bytes: 1, or -1 after saying why. */
static int rpc_decode(const uint8_t *buf, size_t n, criu_resp *resp)
{
	pb_istream_t is = pb_istream_from_buffer(buf, n);

	memset(resp, 0, sizeof(*resp));
	if (!pb_decode(&is, criu_resp_fields, resp)) {
		warn("malformed reply from criu (%zu bytes that do not decode as a criu_resp)", n);
		return -1;
	}
	return 1;
}

/*
 * Wait for one datagram from CRIU, watching the signalfd and the deadline.
 * The control buffer has room for a few fds: CRIU sends one with the
 * orphan-pts-master notification; any fd cr does not keep is closed here or
 * by the caller. Returns 1 with a decoded message, 0 when criu closed the
 * connection, -1 on error (reported).
 */
static int rpc_recv(struct rpc *r, criu_resp *resp, int *fd)
{
	uint8_t buf[4096];
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	ssize_t n;

	*fd = -1;
	if (rpc_wait(r, POLLIN))
		return -1;
	n = recvmsg(r->sk, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0 && errno == ECONNRESET)
		n = 0;
	if (n < 0) {
		warn("receive from criu:");
		return -1;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int got;

				memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (*fd < 0)
					*fd = got;
				else
					close(got);
			}
	if (n == 0)
		return 0;
	if (mh.msg_flags & MSG_TRUNC) {
		warn("criu sent a message larger than %zu bytes: not a CRIU reply", sizeof(buf));
		return -1;
	}
	return rpc_decode(buf, (size_t)n, resp);
}

/*
 * A NOTIFY from CRIU: answer it. CRIU blocks until the answer arrives, and a
 * negative answer makes it abort the way criu-rpc.md section 4 describes
 * (post-dump: tasks resumed; post-restore: restored tasks killed). After an
 * interrupt every answer is negative, which is how SIGINT/SIGTERM end an
 * operation cleanly.
 */
static int rpc_notify(struct rpc *r, const criu_resp *resp, int fd)
{
	criu_req ack;
	const char *script = resp->has_notify && resp->notify.has_script ? resp->notify.script : "";
	bool ok = !r->interrupted;

	close_keep(fd);	/* orphan-pts-master: cr does not keep it */
	r->hook.sigfd = r->sigfd;
	r->hook.deadline = r->deadline;
	if (ok && hook_run(&r->hook, script, resp->notify.has_pid ? resp->notify.pid : 0))
		ok = false;
	/* migrate/receive: the images go over and the target restores while
	 * CRIU waits here (post-dump), or the restored tree waits for the
	 * source to let go (post-restore); -1 makes CRIU undo its work */
	if (ok && cfg.hold) {
		int64_t t = now_ms();

		ok = !cfg.hold(cfg.hold_arg, script, resp->notify.has_pid ? resp->notify.pid : 0, r->hook.img);
		if (r->deadline)	/* the hold's waits have --timeout of their own */
			r->deadline += now_ms() - t;
	}
	if (r->hook.sig && !r->interrupted) {
		/* the signal the hook's wait consumed is the operation's */
		r->interrupted = r->hook.sig;
		r->grace = now_ms() + GRACE_MS;
	}
	if (ok && str_eq(script, "status-ready") && !cfg.migrating)
		warn("page server ready; the images are in %s until the pages are served", r->hook.img);
	if (ok && str_eq(script, "status-ready") && r->status_fd >= 0) {
		/* runc's --status-fd: one NUL byte when the page server listens */
		if (write_all(r->status_fd, "", 1))
			warn("--status-fd %d:", r->status_fd);
		close(r->status_fd);
		r->status_fd = -1;
	}
	if (ok && str_eq(script, "post-dump"))
		r->post_dump = true;
	if (str_eq(script, "post-restore") && resp->notify.has_pid)
		r->restored = resp->notify.pid;
	r->resumed |= ok && str_eq(script, "pre-resume");
	rpc_req_init(&ack, criu_req_type_NOTIFY);
	ack.has_notify_success = true;
	ack.notify_success = ok;
	info("CRIU event %s%s", script, ok ? "" : ": answered with failure");
	return rpc_send(r, &ack);
}

/*
 * Send one request and wait for its reply, answering notifications on the
 * way. Returns 0 with the final reply in resp, -1 when there is none (the
 * reason is reported). A reply of another type than the request is an
 * error of its own, as in libcriu.
 */
static int rpc_call(struct rpc *r, const criu_req *req, criu_resp *resp)
{
	criu_req_type want = req->type == criu_req_type_PAGE_SERVER_CHLD ? criu_req_type_PAGE_SERVER : req->type;
	char sb[64];
	int fd, got;

	if (rpc_send(r, req))
		return -1;
	for (;;) {
		got = rpc_recv(r, resp, &fd);
		if (got <= 0) {
			close_keep(fd);
			if (got < 0)
				return -1;
			if (r->timed_out || r->killed)
				return -1;	/* already said */
			if (r->pid > 0) {
				int st = rpc_close(r);

				warn("criu exited without answering the %s request (%s)", rpc_type_name(req->type),
				     st < 0 ? "status unknown" : rpc_status_str(st, sb, sizeof(sb)));
			} else
				warn("the criu service closed the connection without answering the %s request",
				     rpc_type_name(req->type));
			return -1;
		}
		if (resp->type != criu_req_type_NOTIFY)
			break;
		if (rpc_notify(r, resp, fd)) {
			int st;

			/* the answer could not go out: criu died (while a hook ran?) */
			if (r->pid > 0 && waitpid(r->pid, &st, WNOHANG) == r->pid) {
				r->pid = 0;
				warn("criu exited during the %s request (%s)", rpc_type_name(req->type),
				     rpc_status_str(st, sb, sizeof(sb)));
			}
			return -1;
		}
	}
	close_keep(fd);
	if (resp->type != want && !(resp->type == criu_req_type_EMPTY && !resp->success)) {
		warn("unexpected response type %s to the %s request", rpc_type_name(resp->type),
		     rpc_type_name(req->type));
		return -1;
	}
	return 0;
}

/* VERSION, first on every connection (keep_open), then the version gates. */
static int rpc_version(struct rpc *r)
{
	criu_req req;
	criu_resp resp;

	rpc_req_init(&req, criu_req_type_VERSION);
	req.has_keep_open = true;
	req.keep_open = !r->last;
	if (rpc_call(r, &req, &resp))
		return -1;
	if (!resp.success || !resp.has_version) {
		warn("criu did not answer the VERSION request (CRIU older than 3.0?)");
		return -1;
	}
	/* found by fuzz/fz_rpc.c: a huge major overflowed the arithmetic below */
	if (resp.version.major_number < 0 || resp.version.major_number > 999 || resp.version.minor_number < 0 ||
	    resp.version.minor_number > 99 || (resp.version.has_sublevel && (resp.version.sublevel < 0 || resp.version.sublevel > 99))) {
		warn("criu answered VERSION with %d.%d, which is no CRIU version", resp.version.major_number,
		     resp.version.minor_number);
		return -1;
	}
	r->ver = resp.version.major_number * 10000 + resp.version.minor_number * 100 +
		 (resp.version.has_sublevel ? resp.version.sublevel : 0);
	info("CRIU %d.%d.%d", resp.version.major_number, resp.version.minor_number,
	     resp.version.has_sublevel ? resp.version.sublevel : 0);
	return cfg_check_version(r->ver);
}

/* FEATURE_CHECK for all three features (keep_open). */
static int rpc_features(struct rpc *r, criu_features *f)
{
	criu_req req;
	criu_resp resp;

	rpc_req_init(&req, criu_req_type_FEATURE_CHECK);
	req.has_keep_open = true;
	req.keep_open = !r->last;
	req.has_features = true;
	req.features = (criu_features){ true, true, true, true, true, true };
	if (rpc_call(r, &req, &resp))
		return -1;
	if (!resp.success || !resp.has_features) {
		warn("criu failed the FEATURE_CHECK request");
		return -1;
	}
	*f = resp.features;
	return 0;
}

/* The fix for a failure CRIU's words identify (in its log or stderr), or
 * NULL: a pattern per situation, its fix at half its index. */
static const char *known_fix(const char *text)
{
	for (unsigned i = 0; i < 4; i++)
		if (strstr(text, nth("Error (criu/vdso.c\0Can't get 1:16 opt\0cpuset.cpu_exclusive: Invalid argument\0"
				     "cpuset.cpus: Invalid argument\0", i)))
			return nth("this CRIU is too old for this kernel: CRIU 4.2 or newer works (docs/troubleshooting.md)\0"
				   "a sibling cpuset cgroup holds CPUs this tree's cpuset had (exclusively) at checkpoint time, "
				   "so CRIU cannot recreate it as it was: restore with --manage-cgroups-mode ignore (the tree "
				   "then stays in the cgroups cr puts CRIU in, --cgroup's), or free those CPUs in the sibling's "
				   "cpuset.cpus first\0", i / 2);
	return NULL;
}

/*
 * The reason an operation failed, as a user needs it: the request, CRIU's
 * errno, its first error message when that is the real reason (not the
 * harmless rlimit line every run here logs), where the log is, and the
 * log's Error lines with two lines of context each (as runc quotes them).
 */
static void rpc_report_failure(const char *what, criu_req_type type, const criu_resp *resp, int wd, const char *log,
			       const char *log_shown)
{
	static char *buf_m;
	char *const buf = BIG(buf_m, 1 << 20);
	char *lines[64], *save = NULL, *start = buf;
	int n = 0, shown = 0, last = -1, fd;
	ssize_t len = -1;
	off_t size = 0;

	if (resp && resp->has_cr_errno && resp->cr_errno)
		warn("%s failed (CRIU %s request): %s (errno %d)", what, rpc_type_name(type), strerror(resp->cr_errno),
		     resp->cr_errno);
	else
		warn("%s failed (CRIU %s request)", what, rpc_type_name(type));
	if (resp && resp->has_cr_errmsg && resp->cr_errmsg[0] && !strstr(resp->cr_errmsg, HARMLESS_ERROR)) {
		size_t m = strlen(resp->cr_errmsg);

		while (m && resp->cr_errmsg[m - 1] == '\n')
			m--;
		warn("CRIU says: %.*s", (int)m, resp->cr_errmsg);
	}
	if (!log_shown) {
		warn("CRIU wrote no log");
		return;
	}
	/* the last MiB: a debug log (--log-level 4) is longer, and CRIU's
	 * errors come at its end */
	if ((fd = openat(wd, log, O_RDONLY | O_CLOEXEC)) >= 0) {
		size = lseek(fd, 0, SEEK_END);
		if (size >= 0 && lseek(fd, size > (off_t)(1 << 20) - 1 ? size - (off_t)(1 << 20) + 1 : 0, SEEK_SET) >= 0)
			len = read(fd, buf, (1 << 20) - 1);
		close_keep(fd);
	}
	if (len < 0) {
		warn("CRIU log %s:", log_shown);
		return;
	}
	buf[len] = '\0';
	if (size > len && (start = strchr(buf, '\n')))	/* skip the partial first line */
		start++;
	/* migrate's temporary directory goes at its end: the errors follow */
	warn("CRIU log: %s%s", log_shown, cfg.migrating && !cfg.set[O_image_path] ? " (a temporary directory, removed at the end)" : "");
	if (known_fix(start ? start : buf))
		warn("%s", known_fix(start ? start : buf));
	for (char *l = strtok_r(start ? start : buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		/* CRIU sets TCP options on every socket, cr's unix ps socket too */
		if (strstr(l, HARMLESS_ERROR) || strstr(l, "Unable to set TCP_"))
			continue;
		lines[n % 64] = l;
		if (strstr(l, "Error (") && shown < 40) {
			for (int k = n - 2 > last ? n - 2 : last + 1; k <= n; k++, shown++)
				out(2, "  %s\n", lines[k % 64]);
			last = n;
		}
		n++;
	}
}

/* ================================ Signals ================================ */

/*
 * SIGINT, SIGTERM and SIGHUP (and SIGCHLD for restore --wait) are blocked
 * and read from a signalfd, so they are handled at known points: during an
 * operation they make cr answer CRIU's next notification with failure;
 * with --wait they are forwarded to the restored tree. The swrk child
 * unblocks everything before exec.
 */
static int sig_setup(bool with_chld)
{
	sigset_t set;

	if (cfg.sigfd > 0 && !with_chld)
		return cfg.sigfd;	/* one for the whole run (migrate runs several operations) */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (with_chld)
		sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -1;
	return cfg.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* ================================ cgroupfs =============================== */

/*
 * cr handles cgroups itself, with plain file I/O on cgroupfs: the layout
 * comes from /proc/self/mountinfo (pure v2, pure v1, or hybrid: v1
 * controllers plus a v2 tree), and everything else is reading and writing
 * the kernel's well-known files (cgroup.procs, freezer.state,
 * cgroup.freeze, cgroup.subtree_control). docs/cgroups.md describes the
 * steps; ../shared/runc-cgroups.md what runc and crun do and got wrong.
 */

#define CGROUP_SUPER_MAGIC_ 0x27e0eb
#define CGROUP2_SUPER_MAGIC_ 0x63677270
#define MAX_CG_PIDS 4096

/* The hierarchies, from /proc/self/mountinfo. */
struct cg_layout {
	char v2[PATH_MAX];	/* the cgroup2 mount point, "" if none */
	int nv1;
	struct {
		char path[PATH_MAX];
		char ctrl[128];	/* "freezer", "cpu,cpuacct", "name=systemd" */
	} v1[24];
};

/* A cgroup cr was pointed at, resolved against the layout. */
struct cg_dir {
	char path[PATH_MAX];	/* the directory, as given (normalised) */
	char rel[PATH_MAX];	/* relative to its hierarchy's root: "/a/b" */
	char mnt[PATH_MAX];	/* its hierarchy's mount point */
	char ctrl[128];		/* v1: the hierarchy's controllers */
	bool v2;
};

/* Parse mountinfo lines: "... MOUNTPOINT OPTS ... - FSTYPE SOURCE SUPEROPTS".
 * For v1 the controllers are the super options other than the generic
 * ones. Mount points with escaped characters are not supported. */
static int cg_read_layout(struct cg_layout *l)
{
	static char *buf_m;
	char *const buf = BIG(buf_m, 1 << 20);
	char *save = NULL;
	ssize_t n0;

	memset(l, 0, sizeof(*l));
	if ((n0 = read_file_at(AT_FDCWD, "/proc/self/mountinfo", buf, (1 << 20))) < 0)
		return -1;
	if (n0 == (1 << 20) - 1) {
		errno = E2BIG;	/* a cgroup mount past the end would be missed */
		return -1;
	}
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[8], *sep = strstr(line, " - "), *s2 = NULL, *fstype, *super, *ctl;
		int n = 0;

		if (!sep)
			continue;
		*sep = '\0';
		for (char *t = strtok_r(line, " ", &s2); t && n < 8; t = strtok_r(NULL, " ", &s2))
			f[n++] = t;
		s2 = NULL;
		fstype = strtok_r(sep + 3, " ", &s2);
		strtok_r(NULL, " ", &s2);	/* source */
		super = strtok_r(NULL, " ", &s2);
		if (n < 5 || !fstype || !super)
			continue;
		if (str_eq(fstype, "cgroup2") && !l->v2[0])
			snprintf(l->v2, sizeof(l->v2), "%s", f[4]);
		if (!str_eq(fstype, "cgroup") || l->nv1 == (int)ARRAY_LEN(l->v1))
			continue;
		snprintf(l->v1[l->nv1].path, sizeof(l->v1[0].path), "%s", f[4]);
		ctl = l->v1[l->nv1].ctrl;
		s2 = NULL;
		for (char *o = strtok_r(super, ",", &s2); o; o = strtok_r(NULL, ",", &s2))
			if (!in_choices(o, "rw|ro|relatime|noatime|nosuid|nodev|noexec|clone_children|noprefix|xattr|"
					   "cpuset_v2_mode|favordynmods") &&
			    strncmp(o, "release_agent=", 14))
				snprintf(ctl + strlen(ctl), sizeof(l->v1[0].ctrl) - strlen(ctl), "%s%s", ctl[0] ? "," : "", o);
		l->nv1++;
	}
	return 0;
}

static const char *cg_layout_name(const struct cg_layout *l)
{
	if (l->v2[0] && l->nv1)
		return "hybrid";
	if (l->v2[0])
		return "v2";
	return l->nv1 ? "v1" : "none";
}

/* Is dir (a mount point) a path prefix of path? Returns the rest. */
static const char *path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strncmp(path, dir, n) || (path[n] && path[n] != '/' && !str_eq(dir, "/")))
		return NULL;
	return path + n;
}

/* Is the comma-separated list ctrl one that names word? */
static bool in_list(const char *word, const char *list)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *p = buf; *p; p++)
		if (*p == ',')
			*p = '|';
	return in_choices(word, buf);
}

/*
 * Resolve a --cgroup path: absolute, no "." or ".." components, under one
 * of the cgroup mounts (the longest that matches), and on cgroupfs. Returns
 * 0, or -1 after saying why; *usage tells a bad argument (exit 2) from a
 * state of the system (exit 1).
 */
static int cg_resolve(const struct cg_layout *l, const char *path, struct cg_dir *c, bool must_exist, bool *usage)
{
	size_t best = 0;
	struct statfs sf;
	const char *rest;

	*usage = true;
	memset(c, 0, sizeof(*c));
	if (path[0] != '/' || strstr(path, "/./") || strstr(path, "/../") || strstr(path, "//") ||
	    (strlen(path) >= 3 && str_eq(path + strlen(path) - 3, "/..")) ||
	    (strlen(path) >= 2 && str_eq(path + strlen(path) - 2, "/."))) {
		warn("--cgroup %s: give an absolute cgroupfs path without . or .. (e.g. /sys/fs/cgroup/unified/app)", path);
		return -1;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	for (size_t n = strlen(c->path); n > 1 && c->path[n - 1] == '/'; n--)
		c->path[n - 1] = '\0';
	if (l->v2[0] && (rest = path_under(c->path, l->v2)) && strlen(l->v2) > best) {
		best = strlen(l->v2);
		c->v2 = true;
		snprintf(c->mnt, sizeof(c->mnt), "%s", l->v2);
	}
	for (int i = 0; i < l->nv1; i++)
		if (path_under(c->path, l->v1[i].path) && strlen(l->v1[i].path) > best) {
			best = strlen(l->v1[i].path);
			c->v2 = false;
			snprintf(c->mnt, sizeof(c->mnt), "%s", l->v1[i].path);
			snprintf(c->ctrl, sizeof(c->ctrl), "%s", l->v1[i].ctrl);
		}
	if (!best) {
		/* through a symlink (/sys/fs/cgroup/cpu -> cpu,cpuacct)? Then by
		 * its real name: the kernel's, for the path or its parent */
		char real[PATH_MAX], dir[PATH_MAX], base[NAME_MAX + 1];
		int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC), whole = fd >= 0;

		if (fd < 0 && !split_path(path, dir, sizeof(dir), base, sizeof(base)))
			fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		int named = fd >= 0 && !fd_path(fd, real, sizeof(real) - NAME_MAX - 2);

		close_keep(fd);
		if (named) {
			if (!whole)
				snprintf(real + strlen(real), NAME_MAX + 2, "/%s", base);
			if (!str_eq(real, path))
				return cg_resolve(l, real, c, must_exist, usage);
		}
		warn("--cgroup %s is not on cgroupfs (cgroup mounts here: %s%s%d v1)", path, l->v2[0] ? l->v2 : "",
		     l->v2[0] ? ", " : "", l->nv1);
		return -1;
	}
	rest = path_under(c->path, c->mnt);
	snprintf(c->rel, sizeof(c->rel), "%s", *rest ? rest : "/");
	*usage = false;
	if (statfs(c->path, &sf)) {
		if (errno == ENOENT && !must_exist)
			return 0;
		warn("--cgroup %s:", c->path);
		return -1;
	}
	if (sf.f_type != CGROUP_SUPER_MAGIC_ && sf.f_type != CGROUP2_SUPER_MAGIC_) {
		*usage = true;
		warn("--cgroup %s is not on cgroupfs", c->path);
		return -1;
	}
	return 0;
}

/* The layout, and --cgroup resolved in it when given; on failure, exit (2
 * for a usage error) before any side effect. */
static void cg_layout_resolve(struct cg_layout *l, struct cg_dir *c, bool must_exist)
{
	bool usage = false;

	if (cg_read_layout(l))
		die("read /proc/self/mountinfo:");
	if (cfg.cgroup[0] && cg_resolve(l, cfg.cgroup, c, must_exist, &usage))
		quit(usage ? EXIT_USAGE : EXIT_FAIL);
}

struct pidset {
	int n;
	pid_t v[MAX_CG_PIDS];
};

static int cg_collect(int fd, const char *name, void *arg);

/* Add the processes of the cgroup at dirfd/name and of every cgroup below
 * it to the set. */
static int cg_collect_at(int dirfd, const char *name, struct pidset *s)
{
	static char *buf_m;
	char *const buf = BIG(buf_m, 1 << 20);	/* its pids are all taken before the recursion */
	char *save = NULL;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;
	ssize_t n;

	if (fd < 0 || (n = read_file_at(fd, "cgroup.procs", buf, (1 << 20))) < 0 ||
	    (n == (1 << 20) - 1 && (errno = E2BIG))) {
		close_keep(fd);
		return -1;
	}
	for (char *t = strtok_r(buf, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
		if (s->n == MAX_CG_PIDS) {
			close(fd);
			errno = E2BIG;
			return -1;
		}
		s->v[s->n++] = (pid_t)scan_num(t, 10);
	}
	r = dir_each(fd, cg_collect, s);
	close(fd);
	return r;
}

static int cg_collect(int fd, const char *name, void *arg)
{
	struct stat st;

	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode))
		return 0;
	return cg_collect_at(fd, name, arg) ? -1 : 0;
}

/* Is pid a process that has not exited (not a zombie)? */
static bool proc_alive(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (pid <= 0 || read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
		return false;
	return p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static pid_t proc_ppid(pid_t pid)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0 || !(p = strstr(buf, "\nPPid:")))
		return -1;
	return (pid_t)scan_num(p + 6 + strspn(p + 6, " \t"), 10);
}

static bool pidset_has(const struct pidset *s, pid_t pid)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i] == pid)
			return true;
	return false;
}

/* Is pid root or a descendant of root? */
static bool proc_in_tree(pid_t pid, pid_t root)
{
	for (int depth = 0; pid > 1 && depth < 4096; depth++) {
		if (pid == root)
			return true;
		pid = proc_ppid(pid);
	}
	return pid == root;
}

static int proc_children(int fd, const char *tid, void *arg)
{
	static char buf[1 << 16];
	struct pidset *s = arg;
	char path[32], *save = NULL;

	snprintf(path, sizeof(path), "%.16s/children", tid);
	if (read_file_at(fd, path, buf, sizeof(buf)) < 0)
		return 0;	/* the thread exited meanwhile */
	for (char *t = strtok_r(buf, " \n", &save); t && s->n < MAX_CG_PIDS; t = strtok_r(NULL, " \n", &save)) {
		pid_t p = (pid_t)scan_num(t, 10);

		if (!pidset_has(s, p))
			s->v[s->n++] = p;
	}
	return 0;
}

/* Every process of the tree at root, root first, breadth first: the
 * children of each of their threads (/proc/PID/task/TID/children). */
static void proc_tree(pid_t root, struct pidset *s)
{
	char path[32];

	s->n = 0;
	s->v[s->n++] = root;
	for (int i = 0; i < s->n; i++) {
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/task", (int)s->v[i]);
		if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			continue;
		dir_each(fd, proc_children, s);
		close(fd);
	}
}

/* Send sig to every task of a tree. */
static void pids_signal(const struct pidset *t, int sig)
{
	for (int i = 0; i < t->n; i++)
		kill(t->v[i], sig);
}

/* The resident memory of a tree, in MiB (statm's second field). */
static unsigned long long pids_rss_mib(const struct pidset *t)
{
	unsigned long long pages = 0;
	char path[32], buf[128];

	for (int i = 0; i < t->n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/statm", (int)t->v[i]);
		if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) > 0)
			pages += scan_num(buf + strcspn(buf, " ") + 1, 10);
	}
	return pages * (unsigned long long)getpagesize() >> 20;
}

/* Print a list of pids after a message prefix, on one line. */
static void warn_pids(const char *what, const struct pidset *s)
{
	char buf[512] = "";

	for (int i = 0; i < s->n && strlen(buf) < sizeof(buf) - 16; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " %d", (int)s->v[i]);
	warn("%s:%s%s", what, buf, s->n > 40 ? " ..." : "");
}

/*
 * The tree to checkpoint by cgroup: its root is the one process of the
 * cgroup (or its descendants) whose parent is outside. No process, or more
 * than one such root, is an error that lists the pids.
 */
static pid_t cg_find_root(const struct cg_dir *c)
{
	static struct pidset all, roots;

	all.n = roots.n = 0;
	if (cg_collect_at(AT_FDCWD, c->path, &all))
		die("--cgroup %s: read its processes:", c->path);
	if (!all.n)
		die("--cgroup %s has no processes: nothing to checkpoint", c->path);
	for (int i = 0; i < all.n; i++)
		if (!pidset_has(&all, proc_ppid(all.v[i])))
			roots.v[roots.n++] = all.v[i];
	if (roots.n != 1) {
		warn_pids("processes of the cgroup whose parent is outside it", &roots);
		die("--cgroup %s holds %d process trees, not one: checkpoint one of them by PID (with --cgroup to "
		    "freeze them all), or move the others out", c->path, roots.n);
	}
	return roots.v[0];
}

/* The cgroup of pid in the hierarchy whose /proc/PID/cgroup line starts
 * with prefix ("0::" for v2, "N:freezer:" matched by controller for v1). */
static int proc_cgroup(pid_t pid, const char *ctrl, char *out, size_t size)
{
	char path[64], buf[8192], *save = NULL;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
		return -1;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		if (ctrl ? in_list(ctrl, c1 + 1) : c1[1] == '\0') {
			snprintf(out, size, "%s", c2 + 1);
			return 0;
		}
	}
	errno = ENOENT;
	return -1;
}

/* The freezer state of c: 1 frozen (or freezing), 0 thawed, -1 error. */
static int cg_frozen(const struct cg_dir *c)
{
	char p[PATH_MAX + 32], buf[64];

	snprintf(p, sizeof(p), "%s/%s", c->path, c->v2 ? "cgroup.freeze" : "freezer.state");
	if (read_file_at(AT_FDCWD, p, buf, sizeof(buf)) < 0)
		return -1;
	return c->v2 ? buf[0] == '1' : !strncmp(buf, "FR", 2);
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (write_all(fd, val, strlen(val))) {
		close_keep(fd);
		return -1;
	}
	return close(fd);
}

/* Put c's freezer back in the state it was found in (frozen: 1/0). */
static void cg_set_frozen(const struct cg_dir *c, int frozen)
{
	char p[PATH_MAX + 32];

	if (frozen < 0 || cg_frozen(c) == frozen)
		return;
	snprintf(p, sizeof(p), "%s/%s", c->path, c->v2 ? "cgroup.freeze" : "freezer.state");
	if (write_file(p, c->v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED")))
		warn("put %s back to %s:", p, frozen ? "frozen" : "thawed");
	else
		info("put the freezer of %s back to %s", c->path, frozen ? "frozen" : "thawed");
}

/* rmdir c and every cgroup below it, deepest first. A cgroup whose last
 * task is still exiting says EBUSY for a moment: retry for two seconds. */
static int cg_rmdir_tree(int dirfd, const char *name);

static int cg_rmdir_entry(int fd, const char *name, void *arg)
{
	struct stat st;

	if (!fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode) && cg_rmdir_tree(fd, name))
		*(int *)arg = -1;
	return 0;
}

static int cg_rmdir_tree(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -1;
	dir_each(fd, cg_rmdir_entry, &ret);
	close(fd);
	for (int i = 0; unlinkat(dirfd, name, AT_REMOVEDIR); i++) {
		if (errno != EBUSY || i == 200)
			return -1;
		usleep(10000);
	}
	return ret;
}

/*
 * restore --cgroup: the directories the restored tree goes into. v2: the
 * one directory, with the --cgroup-controllers enabled in every ancestor's
 * cgroup.subtree_control. v1: the same relative path in every mounted
 * hierarchy, or in those holding a controller named by
 * --cgroup-controllers. Created (0755, as cgroupfs wants) where missing.
 */
struct cg_target {
	int n;
	struct cg_dir d[24];
	char created[24][PATH_MAX];	/* the topmost directory cr created, "" if none */
};

/*
 * A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and
 * moving a task into it fails (ENOSPC): give it its parent's, as runc does.
 */
static int cg_cpuset_init(const char *dir)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char p[PATH_MAX + 32], val[4096];

	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		snprintf(p, sizeof(p), "%s/../%s", dir, files[i]);
		if (read_file_at(AT_FDCWD, p, val, sizeof(val)) < 0)
			return errno == ENOENT ? 0 : -1;	/* not a cpuset hierarchy */
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		if (write_file(p, val))
			return -1;
	}
	return 0;
}

/* mkdir -p for cgroups (0755, as cgroupfs wants), then each directory it
 * made gets its parent's cpusets, top down. */
static int cg_mkdirs(const char *path, char *created)
{
	char buf[PATH_MAX];
	size_t n;

	if (mkdir_p(path, 0755, created))
		return -1;
	for (n = strlen(created); created[0]; n += strcspn(path + n + 1, "/") + 1) {
		snprintf(buf, sizeof(buf), "%.*s", (int)n, path);
		if (cg_cpuset_init(buf))
			return -1;
		if (!path[n])
			break;
	}
	return 0;
}

static int cg_enable_ctrls(const struct cg_dir *c)
{
	char p[PATH_MAX + 32], want[256], *save = NULL;

	snprintf(want, sizeof(want), "%s", cfg.cg_ctrls);
	for (char *ctl = strtok_r(want, ",", &save); ctl; ctl = strtok_r(NULL, ",", &save)) {
		char val[80];

		snprintf(val, sizeof(val), "+%s", ctl);
		/* every ancestor of the target, from the hierarchy's root down */
		for (const char *s = c->rel; (s = strchr(s, '/')); s++) {
			snprintf(p, sizeof(p), "%s%.*s/cgroup.subtree_control", c->mnt, (int)(s - c->rel), c->rel);
			if (write_file(p, val)) {
				warn("enable the %s controller in %s:", ctl, p);
				return -1;
			}
		}
	}
	return 0;
}

static int cg_prepare_target(const struct cg_layout *l, const struct cg_dir *c, struct cg_target *t)
{
	memset(t, 0, sizeof(*t));
	if (c->v2)
		t->d[t->n++] = *c;
	for (int i = 0; !c->v2 && i < l->nv1; i++) {
		struct cg_dir *d = &t->d[t->n];
		bool want = !cfg.cg_ctrls[0];
		char ctrl[128], *save = NULL;

		snprintf(ctrl, sizeof(ctrl), "%s", l->v1[i].ctrl);
		for (char *w = strtok_r(ctrl, ",", &save); w && !want; w = strtok_r(NULL, ",", &save))
			want = in_list(w, cfg.cg_ctrls);
		if (!want)
			continue;
		*d = *c;
		snprintf(d->mnt, sizeof(d->mnt), "%s", l->v1[i].path);
		snprintf(d->ctrl, sizeof(d->ctrl), "%s", l->v1[i].ctrl);
		snprintf(d->path, sizeof(d->path), "%.2047s%.2047s", l->v1[i].path, str_eq(c->rel, "/") ? "" : c->rel);
		t->n++;
	}
	if (!t->n) {
		warn("--cgroup-controllers %s names no mounted v1 hierarchy", cfg.cg_ctrls);
		return -1;
	}
	for (int i = 0; i < t->n; i++) {
		if (cg_mkdirs(t->d[i].path, t->created[i])) {
			warn("create cgroup %s:", t->d[i].path);
			return -1;
		}
		if (t->d[i].v2 && cfg.cg_ctrls[0] && cg_enable_ctrls(&t->d[i]))
			return -1;
		info("restore cgroup %s%s", t->d[i].path, t->created[i][0] ? " (created)" : "");
	}
	return 0;
}

/* Move pid into every target directory. */
static int cg_enter(const struct cg_target *t, pid_t pid)
{
	char p[PATH_MAX + 32], val[16];

	snprintf(val, sizeof(val), "%d", (int)pid);
	for (int i = 0; i < t->n; i++) {
		snprintf(p, sizeof(p), "%s/cgroup.procs", t->d[i].path);
		if (write_file(p, val)) {
			warn("move criu (pid %d) into %s:", (int)pid, p);
			return -1;
		}
	}
	return 0;
}

/* Is pid in the cgroup c (of its hierarchy)? 0 yes, -1 no. */
static int cg_check_member(const struct cg_dir *c, pid_t pid)
{
	char rel[PATH_MAX], first[64];

	snprintf(first, sizeof(first), "%.*s", (int)strcspn(c->ctrl, ","), c->ctrl);
	/* the cgroup itself or one below it (CRIU's soft mode recreates the
	 * tree's own sub-cgroups there) */
	if (proc_cgroup(pid, c->v2 ? NULL : first, rel, sizeof(rel)) || !path_under(rel, c->rel))
		return -1;
	return 0;
}

/* After a failed restore: remove the directories cr created. */
static void cg_undo_target(struct cg_target *t)
{
	for (int i = 0; i < t->n; i++)
		if (t->created[i][0] && cg_rmdir_tree(AT_FDCWD, t->created[i]))
			warn("remove cgroup %s that cr created:", t->created[i]);
}

/* One cg_root entry per controller of a v1 hierarchy (co-mounted
 * cpu,cpuacct gives two; named hierarchies are "name=..."). */
static int cg_add_roots(criu_opts *o, const char *ctrls, const char *rel)
{
	char ctrl[128], *save = NULL;

	snprintf(ctrl, sizeof(ctrl), "%s", ctrls);
	for (char *w = strtok_r(ctrl, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		cgroup_root *r = &o->cg_root[o->cg_root_count++];

		if (o->cg_root_count == (pb_size_t)ARRAY_LEN(o->cg_root)) {
			warn("more than %d cgroup controllers: name the ones to use with --cgroup-controllers",
			     (int)ARRAY_LEN(o->cg_root) - 1);
			return -1;
		}
		r->has_ctrl = true;
		snprintf(r->ctrl, sizeof(r->ctrl), "%s", w);
		snprintf(r->path, sizeof(r->path), "%s", rel);
	}
	return 0;
}

/*
 * The cg_root entries that map the dumped cgroup root onto the target: one
 * unnamed entry on v2; one per controller on v1. CRIU takes the unnamed
 * entry as every hierarchy's root, so on a hybrid host a v2 target also
 * gets one entry per v1 controller naming the cgroup criu is in there
 * (cr's own): otherwise CRIU's soft mode makes the target's path in every
 * v1 hierarchy and writes the dumped cpuset's cpu_exclusive into it, which
 * a sibling cpuset holding the same CPUs (docker's, say) refuses (EINVAL).
 */
static int cg_fill_roots(const struct cg_layout *l, const struct cg_target *t, criu_opts *o)
{
	char rel[PATH_MAX], first[64];

	for (int i = 0; i < t->n; i++) {
		if (t->d[i].v2) {
			cgroup_root *r = &o->cg_root[o->cg_root_count++];

			snprintf(r->path, sizeof(r->path), "%s", t->d[i].rel);
			for (int k = 0; k < l->nv1; k++) {
				snprintf(first, sizeof(first), "%.*s", (int)strcspn(l->v1[k].ctrl, ","), l->v1[k].ctrl);
				if (!proc_cgroup(getpid(), first, rel, sizeof(rel)) && cg_add_roots(o, l->v1[k].ctrl, rel))
					return -1;
			}
		} else if (cg_add_roots(o, t->d[i].ctrl, t->d[i].rel))
			return -1;
	}
	return 0;
}

/* ============================== Statistics =============================== */

#define IMG_SERVICE_MAGIC 0x55105940
#define IMG_COMMON_MAGIC 0x54564319
#define STATS_MAGIC 0x57093306

/*
 * Read CRIU's stats-dump or stats-restore (criu-rpc.md 5): two little-endian
 * magics, a payload length, one packed stats_entry. Every way the file can
 * be wrong is its own message. Returns 0, or -1 after saying why.
 */
/* The stats file's bytes (len of them, len == size meaning "at least"),
 * named dir/name in messages. */
static int stats_decode(const uint8_t *buf, size_t len, size_t size, const char *dir, const char *name,
			stats_entry *e)
{
	uint32_t m[3];
	pb_istream_t is;

	memcpy(m, buf, len >= 12 ? 12 : 0);
	m[0] = le32toh(m[0]), m[1] = le32toh(m[1]), m[2] = le32toh(m[2]);
	if (len < 12)
		warn("%s/%s: truncated: %zu bytes, shorter than the 12-byte header", dir, name, len);
	else if ((m[0] != IMG_SERVICE_MAGIC && m[0] != IMG_COMMON_MAGIC) || m[1] != STATS_MAGIC)
		warn("%s/%s: bad magic %08x %08x: not a CRIU stats file", dir, name, m[0], m[1]);
	else if (len == size || m[2] > stats_entry_size)
		warn("%s/%s: oversized: the entry says %u bytes, a stats entry is at most %d", dir, name, m[2],
		     stats_entry_size);
	else if (m[2] > len - 12)
		warn("%s/%s: truncated: the header says %u bytes, the file has %zu after it", dir, name, m[2], len - 12);
	else {
		is = pb_istream_from_buffer(buf + 12, m[2]);
		memset(e, 0, sizeof(*e));
		if (pb_decode(&is, stats_entry_fields, e))
			return 0;
		warn("%s/%s: corrupt stats entry (%u bytes that do not decode as a stats_entry)", dir, name, m[2]);
	}
	return -1;
}

static int stats_read(int dirfd, const char *dir, const char *name, stats_entry *e)
{
	uint8_t buf[4096];
	ssize_t len;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || (len = read(fd, buf, sizeof(buf))) < 0) {
		warn("%s/%s:", dir, name);
		close_keep(fd);
		return -1;
	}
	close(fd);
	return stats_decode(buf, (size_t)len, sizeof(buf), dir, name, e);
}

/* Microseconds as milliseconds with one decimal, without floating point. */
static const char *ms(uint64_t us, char *buf)
{
	snprintf(buf, 24, "%llu.%llu", (unsigned long long)(us / 1000), (unsigned long long)(us % 1000 / 100));
	return buf;
}

/*
 * Print a stats entry: a short table on stderr, or with --json one object
 * on stdout (docs/statistics.md documents the fields). wall_us is cr's own
 * wall time for the operation, 0 when unknown (cr stats). A lazy dump's
 * frozen time is CRIU's bookkeeping, not the tree's downtime (machine-notes:
 * around 4e9 us): it is shown as unknown, with the reason.
 */
static const char *stats_tail = "}\n";	/* inspect: "}}\n", the object is inside its own */

static void stats_print(const char *what, pid_t pid, uint64_t wall_us, const stats_entry *e, bool lazy)
{
	long page = getpagesize();
	uint64_t v[8];
	const char *names = e->has_dump ? "freezing_ms\0frozen_ms\0memdump_ms\0memwrite_ms\0pages_scanned\0"
					  "pages_skipped_parent\0pages_written\0pages_lazy\0"
					: "forking_ms\0restore_ms\0pages_restored\0";
	int n = e->has_dump ? 8 : 3, times = e->has_dump ? 4 : 2;
	char b[24];
	int f = cfg.json || !wall_us ? 1 : 2;	/* cr stats: the table is the result */

	/* CRIU's stats of a lazy dump are not filled in: no freezing time, no
	 * page scanned, and a frozen time that is not one (seen: minutes, or a
	 * negative number wrapped into uint32). A real dump always scanned
	 * pages, so that pattern marks a lazy dump in cr stats too. */
	lazy = lazy || (e->has_dump && !e->dump.freezing_time && !e->dump.pages_scanned && e->dump.frozen_time);
	if (e->has_dump) {
		const dump_stats_entry *d = &e->dump;
		uint64_t dv[8] = { d->freezing_time, d->frozen_time, d->memdump_time, d->memwrite_time, d->pages_scanned,
				   d->pages_skipped_parent, d->pages_written, d->pages_lazy };
		memcpy(v, dv, sizeof(dv));
	} else {
		const restore_stats_entry *r = &e->restore;
		uint64_t rv[3] = { r->forking_time, r->restore_time, r->has_pages_restored ? r->pages_restored : 0 };
		memcpy(v, rv, sizeof(rv));
	}
	if (cfg.json) {
		out(1, "{\"command\":\"%s\"", what);
		if (pid)
			out(1, ",\"pid\":%d", (int)pid);
		if (wall_us)
			out(1, ",\"cr_wall_ms\":%s", ms(wall_us, b));
		for (int i = 0; i < n; i++) {
			if (i < times && lazy && i == 1)
				out(1, ",\"%s\":null", nth(names, (unsigned)i));
			else if (i < times)
				out(1, ",\"%s\":%s", nth(names, (unsigned)i), ms(v[i], b));
			else
				out(1, ",\"%s\":%llu,\"%.*s_mib\":%llu.%02llu", nth(names, (unsigned)i), (unsigned long long)v[i],
				       (int)strlen(nth(names, (unsigned)i)), nth(names, (unsigned)i), (unsigned long long)(v[i] * page >> 20),
				       (unsigned long long)((v[i] * page % (1 << 20)) * 100 >> 20));
		}
		out(1, ",\"page_size\":%ld%s%s", page, lazy ? ",\"note\":\"frozen_ms of a lazy dump is not reported by CRIU correctly\"" : "",
		    stats_tail);
		return;
	}
	out(f, "%s statistics%s:\n", what, wall_us ? "" : " (from CRIU's file)");
	if (wall_us)
		out(f, "  %-22s %10s ms\n", "cr wall time", ms(wall_us, b));
	for (int i = 0; i < n; i++) {
		if (i < times && lazy && i == 1)
			out(f, "  %-22s %10s    (CRIU's figure is wrong for lazy dumps: measure downtime from outside)\n",
				"frozen", "unknown");
		else if (i < times)
			out(f, "  %-22s %10s ms\n", nth(names, (unsigned)i), ms(v[i], b));
		else
			out(f, "  %-22s %10llu pages %8llu MiB\n", nth(names, (unsigned)i), (unsigned long long)v[i],
				(unsigned long long)(v[i] * page >> 20));
	}
}

/* stats DIR: the statistics CRIU left in a work or image directory. */
static int cmd_stats(void)
{
	const char *dir = cfg.args[0];
	stats_entry e;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), found = 0, ret = EXIT_OK;

	if (fd < 0)
		die("%s:", dir);
	/* --json: one document, {"dump":{...},"restore":{...}} */
	stats_tail = "}";
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "stats-restore" : "stats-dump";

		if (faccessat_(fd, name, F_OK))
			continue;
		if (cfg.json)
			out(1, "%s\"%s\":", found ? "," : "{", i ? "restore" : "dump");
		found++;
		if (stats_read(fd, dir, name, &e)) {
			ret = EXIT_FAIL;
			if (cfg.json)
				out(1, "null");
		} else
			stats_print(i ? "restore" : "dump", 0, 0, &e, false);
	}
	if (cfg.json && found)
		out(1, "}\n");
	close(fd);
	if (!found)
		die("%s holds neither stats-dump nor stats-restore (CRIU writes them into the work directory after a "
		    "successful operation)", dir);
	return ret;
}

/* =========================== Integrity: manifest ========================= */

/*
 * CRIU does not check its images: a truncated pages file hangs its restore,
 * a flipped bit restores silently as corrupt memory. So every checkpoint
 * and pre-dump cr makes carries a manifest, cr-manifest, written once CRIU
 * has let go of the tree (it adds nothing to the downtime) and before the
 * directory is renamed into place:
 *
 *   cr-manifest 1 xxh3-128
 *   f HASH SIZE NAME      each file: XXH3-128 (32 hex digits), its size
 *   l TARGET NAME         each symlink (a pre-dump chain's "parent")
 *   r pages               the memory went to a page server (--page-server):
 *                         pagemap-*.img and pages-*.img are not covered
 *
 * restore and `cr verify` check the directory against it, and follow
 * "parent" into each link of a chain. Logs and statistics are not the
 * checkpoint (CRIU writes them beside the images, restore too) and are left
 * out. It is a checksum, not a signature: whoever can rewrite the images
 * can rewrite the manifest.
 */
#define XXH_INLINE_ALL
#include "xxhash.h"

/* s as the inside of a JSON string (or as it is, for text) */
static const char *ins_str(const char *s, size_t n)
{
	static char bufs[3][PATH_MAX * 6 + 8];	/* three to a message */
	static unsigned k;
	char *b = bufs[k++ % 3];
	size_t o = 0;

	for (size_t i = 0; i < n && o < sizeof(bufs[0]) - 8; i++) {
		unsigned char c = (unsigned char)s[i];

		if (cfg.json && (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f))
			o += (size_t)snprintf(b + o, 8, "\\u%04x", c);
		else
			b[o++] = c >= 0x20 && c != 0x7f ? (char)c : '?';
	}
	b[o] = '\0';
	return b;
}

#define MANIFEST "cr-manifest"
#define MAN_MAX (2u << 20)	/* bytes: about 20,000 files */

static bool man_skip(const char *name)
{
	size_t n = strlen(name);

	return str_eq(name, MANIFEST) || (n > 4 && str_eq(name + n - 4, ".log")) || !strncmp(name, "stats-", 6) ||
	       str_eq(name, "lazy-pages.socket") || name[0] == '.';
}

/*
 * XXH3-128 of a whole file, as 32 hex digits; its size in *size. read(),
 * not mmap(): a fault on a hole of a tmpfs file allocates a page, and
 * --auto-dedup leaves pages files full of holes.
 */
static int man_hash(int dfd, const char *name, char hex[33], unsigned long long *size)
{
	static char *chunk_m;
	char *const chunk = BIG(chunk_m, 256 << 10);	/* in L2, and cr's RSS stays small */
	static XXH3_state_t xs;
	XXH128_hash_t h;
	struct stat st;
	ssize_t n = 0;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	*size = 0;
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			errno = EINVAL;
		close_keep(fd);
		return -1;
	}
	XXH3_128bits_reset(&xs);
	while ((n = read(fd, chunk, (256 << 10))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			XXH3_128bits_update(&xs, chunk, (size_t)n), *size += (unsigned long long)n;
	if (n < 0) {
		close_keep(fd);
		return -1;
	}
	close(fd);
	h = XXH3_128bits_digest(&xs);
	snprintf(hex, 33, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
	return 0;
}

struct man {
	char *buf;		/* the manifest's text */
	size_t len;
	unsigned files;
	unsigned long long bytes;
	int err;		/* errno of the first failure */
	const char *bad;	/* ... and the file it was on */
};

static int man_add(int dfd, const char *name, void *arg)
{
	struct man *m = arg;
	char hex[33], target[PATH_MAX];
	unsigned long long size;
	ssize_t n;
	int w;

	if (man_skip(name))
		return 0;
	if ((n = readlinkat(dfd, name, target, sizeof(target) - 1)) >= 0) {
		target[n] = '\0';
		w = snprintf(m->buf + m->len, MAN_MAX - m->len, "l %s %s\n", target, name);
	} else if (!man_hash(dfd, name, hex, &size)) {
		w = snprintf(m->buf + m->len, MAN_MAX - m->len, "f %s %llu %s\n", hex, size, name);
		m->files++, m->bytes += size;
	} else {
		m->err = errno, m->bad = str_keep(name);
		return -1;
	}
	if ((size_t)w >= MAN_MAX - m->len) {
		m->err = EFBIG, m->bad = str_keep(name);
		return -1;
	}
	m->len += (size_t)w;
	return 0;
}

/* Write DIR's manifest (dfd, shown in messages). 0, or -1 said why. */
static int man_write(int dfd, const char *shown, bool remote_pages)
{
	static char *buf_m;
	char *const buf = BIG(buf_m, MAN_MAX);
	struct man m = { buf, 0, 0, 0, 0, NULL };
	int64_t t0 = now_us();
	int fd;

	m.len = (size_t)snprintf(buf, MAN_MAX, "cr-manifest 1 xxh3-128\n%s", remote_pages ? "r pages\n" : "");
	if (dir_each(dfd, man_add, &m)) {
		errno = m.err;
		warn("manifest of %s: %s:", shown, m.bad ? m.bad : ".");
		return -1;
	}
	fd = openat(dfd, MANIFEST, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write_all(fd, buf, m.len) || fsync(fd) || close(fd)) {
		warn("write %s/%s:", shown, MANIFEST);
		close_keep(fd);
		return -1;
	}
	info("manifest: %u files, %llu MiB hashed in %lld ms", m.files, m.bytes >> 20, (long long)(now_us() - t0) / 1000);
	return 0;
}

/* What verify found, for its text or JSON report. */
struct verdict {
	unsigned problems, files, dirs;
	unsigned long long bytes;
	bool json, quiet;	/* quiet: restore's check, problems to stderr */
	bool unverified;	/* a directory without a manifest (not a problem for restore) */
};

static void man_problem(struct verdict *v, const char *dir, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void man_problem(struct verdict *v, const char *dir, const char *name, const char *fmt, ...)
{
	char what[256];
	struct fmt_out o = { what, sizeof(what), 0 };
	va_list ap;

	va_start(ap, fmt);
	fmt_v(&o, fmt, ap);
	va_end(ap);
	if (v->json)
		out(1, "%s{\"file\":\"%s%s%s\",\"problem\":\"%s\"}", v->problems ? "," : "", ins_str(dir, strlen(dir)),
		    name[0] ? "/" : "", ins_str(name, strlen(name)), ins_str(what, strlen(what)));
	else if (v->quiet)
		warn("%s%s%s: %s", dir, name[0] ? "/" : "", name, what);
	else
		out(1, "%s%s%s: %s\n", dir, name[0] ? "/" : "", name, what);
	v->problems++;
}

/* An entry of DIR the manifest does not list (and that is not a log)? */
struct man_extra {
	const char *man, *dir;
	struct verdict *v;
	bool remote;		/* "r pages": pages files are not covered */
	unsigned present;
};

static bool man_uncovered(const struct man_extra *x, const char *name)
{
	return man_skip(name) || (x->remote && (!strncmp(name, "pagemap-", 8) || !strncmp(name, "pages-", 6)));
}

static int man_extra(int dfd, const char *name, void *arg)
{
	struct man_extra *x = arg;
	char key[NAME_MAX + 4];

	(void)dfd;
	if (man_uncovered(x, name))
		return 0;
	for (const char *p = x->man; (p = strstr(p, name)); p++)
		if (p > x->man && p[-1] == ' ' && p[strlen(name)] == '\n')
			return 0;
	snprintf(key, sizeof(key), "%s", name);
	man_problem(x->v, x->dir, key, "an extra file, not in the manifest");
	return 0;
}

static int man_count(int dfd, const char *name, void *arg)
{
	struct man_extra *x = arg;

	(void)dfd;
	x->present += !man_uncovered(x, name);
	return 0;
}

/*
 * Check DIR (dfd, shown as dir) against its manifest, then the parent its
 * "parent" link names, and so on down a pre-dump chain. Every problem is
 * reported as it is found and counted in v.
 */
static void man_verify(int dfd, const char *dir, struct verdict *v, int depth)
{
	static char *buf_m;
	char *const buf = BIG(buf_m, MAN_MAX + 1);	/* done with before the recursion */
	char hex[33], target[PATH_MAX], parent[PATH_MAX] = "", name[NAME_MAX + 1];
	unsigned listed = 0, missing = 0;
	ssize_t n = read_file_at(dfd, MANIFEST, buf, (MAN_MAX + 1));
	struct man_extra x = { buf, dir, v, false, 0 };
	int pfd;

	v->dirs++;
	if (n < 0 && errno == ENOENT) {
		if (!v->quiet)
			man_problem(v, dir, "", "no %s: not made by cr, so it cannot be verified", MANIFEST);
		v->unverified = true;
		return;
	}
	if (n < 0 || (size_t)n >= MAN_MAX || strncmp(buf, "cr-manifest 1 xxh3-128\n", 23)) {
		man_problem(v, dir, MANIFEST, n < 0 ? "cannot be read: %s" : "is not a manifest this cr reads%s",
			    n < 0 ? strerror(errno) : "");
		return;
	}
	for (const char *l = buf + 23, *e; *l; l = e + 1) {
		const char *sp;
		unsigned long long want, got = 0;
		struct stat st;

		e = strchr(l, '\n');
		if (e && e - l == 7 && !strncmp(l, "r pages", 7)) {
			x.remote = true;
			if (!v->quiet && !v->json)
				out(1, "%s: its memory pages went to a page server: they are not covered\n", dir);
			continue;
		}
		sp = e ? memrchr(l, ' ', (size_t)(e - l)) : NULL;
		if (!sp || sp < l + 3 || (l[0] != 'f' && l[0] != 'l') || l[1] != ' ' || (size_t)(e - sp - 1) > NAME_MAX ||
		    e == sp + 1 || (l[0] == 'f' && (sp <= l + 35 || l[34] != ' '))) {
			man_problem(v, dir, MANIFEST, "is damaged: line %u does not parse", listed + 2);
			return;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(e - sp - 1), sp + 1);
		listed++;
		if (man_skip(name) || strchr(name, '/')) {
			man_problem(v, dir, MANIFEST, "is damaged: it lists \"%s\"", name);
			return;
		}
		if (l[0] == 'l') {
			snprintf(parent, sizeof(parent), "%.*s", (int)(sp - l - 2), l + 2);
			n = readlinkat(dfd, name, target, sizeof(target) - 1);
			target[n > 0 ? n : 0] = '\0';
			if (n < 0)
				missing++, man_problem(v, dir, name, "missing (a link to %s)", parent);
			else if (!str_eq(target, parent))
				man_problem(v, dir, name, "points to %s; the manifest says %s", target, parent);
			if (n < 0 || !str_eq(target, parent) || !str_eq(name, "parent"))
				parent[0] = '\0';
			continue;
		}
		want = scan_num(l + 2 + 33, 10);
		v->files++;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW))
			missing++, man_problem(v, dir, name, errno == ENOENT ? "missing" : "cannot be read: %s", strerror(errno));
		else if (!S_ISREG(st.st_mode))
			man_problem(v, dir, name, "is not a regular file any more");
		else if ((unsigned long long)st.st_size < want)
			man_problem(v, dir, name, "truncated: %llu of its %llu bytes", (unsigned long long)st.st_size, want);
		else if ((unsigned long long)st.st_size != want)
			man_problem(v, dir, name, "its size changed: %llu bytes, the manifest says %llu",
				    (unsigned long long)st.st_size, want);
		else if (man_hash(dfd, name, hex, &got))
			man_problem(v, dir, name, "cannot be read: %s", strerror(errno));
		else if (strncmp(hex, l + 2, 32))
			man_problem(v, dir, name, "changed: its contents differ from the manifest (XXH3-128 %s, not %.32s)",
				    hex, l + 2);
		v->bytes += got;
	}
	/* as many entries as the manifest lists and are there: none is extra
	 * (names are unique); else find them */
	dir_each(dfd, man_count, &x);
	if (x.present != listed - missing)
		dir_each(dfd, man_extra, &x);
	if (!parent[0])
		return;
	if (depth >= 64 || (pfd = openat(dfd, "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		man_problem(v, dir, "parent", depth >= 64 ? "a chain of more than 64 links" : "cannot be opened: %s",
			    strerror(errno));
		return;
	}
	snprintf(target, sizeof(target), "%s/parent", dir);
	man_verify(pfd, target, v, depth + 1);
	close(pfd);
}

/*
 * verify DIR: the checkpoint against its manifest, and each pre-dump of
 * its chain against theirs. One line per problem on stdout, or a line that
 * says it is intact; exit 0 when intact, 1 otherwise.
 */
static int cmd_verify(void)
{
	const char *dir = cfg.args[0];
	struct verdict v = { 0 };
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		die("%s:", dir);
	v.json = cfg.json;
	if (v.json)
		out(1, "{\"dir\":\"%s\",\"problems\":[", ins_str(dir, strlen(dir)));
	man_verify(fd, dir, &v, 0);
	close(fd);
	if (v.json)
		out(1, "],\"intact\":%s,\"files\":%u,\"bytes\":%llu,\"directories\":%u}\n", v.problems ? "false" : "true",
		    v.files, v.bytes, v.dirs);
	else if (!v.problems)
		out(1, "%s: intact: %u files, %llu MiB in %u director%s\n", dir, v.files, v.bytes >> 20, v.dirs,
		    v.dirs == 1 ? "y" : "ies");
	return v.problems ? EXIT_FAIL : EXIT_OK;
}

/* ============================ Inspect: images ============================ */

/*
 * inspect DIR: what a checkpoint holds, read from CRIU's images with the
 * few fields of images.proto (cr's own description, from CRIU's field
 * numbers). An image file is one or two little-endian magics, then entries
 * of a u32 length and a message. Each file is read whole into a buffer of
 * its own kind (never more than IMG_MAX), and every way it can be wrong is
 * said with its name and the entry's offset.
 */
#define INVENTORY_MAGIC 0x58313116
#define PSTREE_MAGIC 0x50273030
#define CORE_MAGIC 0x55053847
#define MM_MAGIC 0x57492820
#define PAGEMAP_MAGIC 0x56084025
#define FDINFO_MAGIC 0x56213732
#define FILES_MAGIC 0x56303138
#define CGROUP_MAGIC 0x59383330
#define IDS_MAGIC 0x54432030
#define IMG_MAX (16u << 20)
#define PE_PARENT 1
#define PE_LAZY 2
#define PE_PRESENT 4

struct img {
	uint8_t *buf;
	size_t len, off;
	char name[40];
};

static const char *ins_dir;
static bool ins_bad;	/* an image could not be read whole */

/* Load dfd's image NAME.img or NAME-N.img (n >= 0) after checking its
 * magic. 1 when it is not there, 0, or -1 after saying why. */
static int img_load(struct img *im, uint8_t *buf, int dfd, uint32_t magic, const char *name, long n)
{
	uint32_t m[2] = { 0, 0 };
	ssize_t r;
	int fd;

	if (n >= 0)
		snprintf(im->name, sizeof(im->name), "%s-%ld.img", name, n);
	else
		snprintf(im->name, sizeof(im->name), "%s.img", name);
	im->buf = buf, im->len = 0;
	if ((fd = openat(dfd, im->name, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 1 : (warn("%s/%s:", ins_dir, im->name), ins_bad = true, -1);
	while (im->len < IMG_MAX && (r = read(fd, buf + im->len, IMG_MAX - im->len)) > 0)
		im->len += (size_t)r;
	close(fd);
	memcpy(m, buf, im->len < 8 ? im->len : 8);
	im->off = magic == INVENTORY_MAGIC ? 4 : 8;
	if (im->len >= IMG_MAX)
		warn("%s/%s: larger than the %u MiB inspect reads", ins_dir, im->name, IMG_MAX >> 20);
	else if (le32toh(m[0]) != (magic == INVENTORY_MAGIC ? magic : IMG_COMMON_MAGIC) ||
		 (magic != INVENTORY_MAGIC && le32toh(m[1]) != magic))
		warn("%s/%s: not the CRIU image its name says (magic %08x %08x)", ins_dir, im->name, le32toh(m[0]),
		     le32toh(m[1]));
	else
		return 0;
	ins_bad = true;
	return -1;
}

/* The next entry into msg: 1, 0 at the end, -1 after saying why. */
static int img_next(struct img *im, const pb_msgdesc_t *fields, void *msg)
{
	uint32_t len;
	pb_istream_t is;

	if (im->off == im->len)
		return 0;
	memcpy(&len, im->buf + im->off, im->len - im->off >= 4 ? 4 : 0);
	len = le32toh(len);
	if (im->len - im->off < 4 || len > im->len - im->off - 4) {
		warn("%s/%s: truncated at byte %zu (an entry of %u bytes)", ins_dir, im->name, im->off,
		     im->len - im->off < 4 ? 0 : len);
	} else {
		is = pb_istream_from_buffer(im->buf + im->off + 4, len);
		im->off += 4 + len;
		if (pb_decode(&is, fields, msg))
			return 1;
		warn("%s/%s: the entry at byte %zu does not decode (%u bytes)", ins_dir, im->name, im->off - 4 - len,
		     len);
	}
	ins_bad = true;
	im->off = im->len;
	return -1;
}

/* a repeated uint32 decoded one by one, and counted */
static bool ins_count(pb_istream_t *is, const pb_field_t *f, void **arg)
{
	uint64_t v;

	(void)f;
	++*(unsigned *)*arg;
	return pb_decode_varint(is, &v);
}

struct ins_mem {
	unsigned vmas;
	unsigned long long mapped;
};

static bool ins_vma(pb_istream_t *is, const pb_field_t *f, void **arg)
{
	struct ins_mem *m = *arg;
	img_vma v = { 0 };

	(void)f;
	if (!pb_decode(is, img_vma_fields, &v))
		return false;
	m->vmas++, m->mapped += v.end > v.start ? v.end - v.start : 0;
	return true;
}

/* an IPv4 or IPv6 address as CRIU keeps it (the kernel's bytes) */
static void ins_addr(char *b, size_t n, const uint32_t *a, pb_size_t words, uint32_t port)
{
	size_t o = 0;

	for (pb_size_t i = 0; i < words * 4 && i < 16; i++) {
		unsigned v = a[i / 4] >> (8 * (i % 4)) & 0xff;

		if (words == 1)
			o += (size_t)snprintf(b + o, n - o, "%s%u", i ? "." : "", v);
		else
			o += (size_t)snprintf(b + o, n - o, "%s%02x", i && !(i % 2) ? ":" : "", v);
	}
	snprintf(b + o, n - o, words > 1 ? "]:%u" : ":%u", port);
	if (words > 1)
		memmove(b + 1, b, strlen(b) + 1), b[0] = '[';
}

static const char *ins_state(uint32_t s)
{
	return nth("-\0established\0syn-sent\0syn-recv\0fin-wait1\0fin-wait2\0time-wait\0close\0close-wait\0"
		   "last-ack\0listen\0closing\0", s);
}

/* What the file with id is, from files.img: its path, or its kind and ends. */
static void ins_file(struct img *files, uint32_t id, uint32_t type, char *b, size_t n)
{
	static img_file e;
	char a1[64], a2[64];

	snprintf(b, n, "%s", nth("?\0file\0pipe\0fifo\0inet\0unix\0eventfd\0eventpoll\0inotify\0signalfd\0packet\0tty\0"
				 "fanotify\0netlink\0ns\0tun\0ext\0timerfd\0memfd\0bpfmap\0pidfd\0", type));
	files->off = 8;
	while (files->buf) {
		int r = img_next(files, img_file_fields, &e);

		if (r < 0)
			files->buf = NULL;	/* said once */
		if (r < 1)
			return;
		if (e.id != id)
			continue;
		if (e.has_reg)
			snprintf(b, n, "%s", e.reg.name);
		else if (e.has_pipe)
			snprintf(b, n, "pipe:[%u]", e.pipe.pipe_id);
		else if (e.has_isk) {
			ins_addr(a1, sizeof(a1), e.isk.src_addr, e.isk.src_addr_count, e.isk.src_port);
			ins_addr(a2, sizeof(a2), e.isk.dst_addr, e.isk.dst_addr_count, e.isk.dst_port);
			snprintf(b, n, "%s%s %s -> %s %s", e.isk.proto == 6 ? "tcp" : e.isk.proto == 17 ? "udp" : "ip",
				 e.isk.family == 10 ? "6" : "", a1, a2, ins_state(e.isk.state));
		} else if (e.has_usk)
			snprintf(b, n, "unix %s %s%.*s%s %s", nth("?\0stream\0dgram\0raw\0rdm\0seqpacket\0", e.usk.type),
				 e.usk.name.size ? !e.usk.name.bytes[0] ? "@" : "" : "(unnamed)",
				 (int)e.usk.name.size - (e.usk.name.size && !e.usk.name.bytes[0]),
				 (char *)e.usk.name.bytes + (e.usk.name.size && !e.usk.name.bytes[0]),
				 e.usk.peer ? " (connected)" : "", ins_state(e.usk.state));
		return;
	}
}

/* One process: its core, memory and files. */
static void ins_proc(int dfd, const img_pstree *p, unsigned threads, struct img *files, uint8_t *buf, bool first)
{
	img_core c = { 0 };
	img_kobj_ids ids = { 0 };
	img_pagemap pm;
	img_mm mm = { 0 };
	img_fdinfo fi;
	struct ins_mem mem = { 0, 0 };
	unsigned long long pg[3] = { 0, 0, 0 };	/* dumped, lazy, in the parent */
	struct img im;
	char what[PATH_MAX + 64];
	int nf = 0;
	bool j = cfg.json;

	if (!img_load(&im, buf, dfd, CORE_MAGIC, "core", p->pid))
		img_next(&im, img_core_fields, &c);
	/* the kernel objects' ids: ids-PID.img, or the core in older CRIU */
	if (!img_load(&im, buf, dfd, IDS_MAGIC, "ids", p->pid) && img_next(&im, img_kobj_ids_fields, &ids) > 0)
		c.ids = ids, c.has_ids = true;
	mm.vmas.funcs.decode = ins_vma, mm.vmas.arg = &mem;
	if (!img_load(&im, buf, dfd, MM_MAGIC, "mm", p->pid))
		img_next(&im, img_mm_fields, &mm);
	if (!img_load(&im, buf, dfd, PAGEMAP_MAGIC, "pagemap", p->pid) && img_next(&im, img_pagemap_fields, &pm) > 0)
		while (memset(&pm, 0, sizeof(pm)), img_next(&im, img_pagemap_fields, &pm) > 0) {
			unsigned long long np = pm.nr_pages ? pm.nr_pages : pm.compat_nr_pages;

			if (!pm.has_flags)
				pm.flags = pm.in_parent ? PE_PARENT : PE_PRESENT;
			/* lazy: left out of the images, for a page server to serve
			 * (CRIU marks every page that could be lazy PE_LAZY) */
			pg[0] += pm.flags & PE_PRESENT ? np : 0;
			pg[1] += (pm.flags & (PE_LAZY | PE_PRESENT)) == PE_LAZY ? np : 0;
			pg[2] += pm.flags & PE_PARENT ? np : 0;
		}
	out(1, j ? "%s{\"pid\":%u,\"ppid\":%u,\"pgid\":%u,\"sid\":%u,\"comm\":\"%s\",\"state\":\"%s\",\"threads\":%u%s,"
		   "\"memory\":{\"vmas\":%u,\"mapped_kib\":%llu,\"pages\":%llu,\"lazy_pages\":%llu,\"parent_pages\":%llu},"
		   "\"files\":["
		 : "%spid %u, parent %u, pgid %u, sid %u: %s, %s, %u thread%s\n"
		   "  memory: %u VMAs, %llu KiB mapped; pages: %llu dumped, %llu lazy, %llu in the parent\n",
	    j && !first ? "," : "", p->pid, p->ppid, p->pgid, p->sid, ins_str(c.tc.comm, strlen(c.tc.comm)),
	    nth("?\0alive\0dead\0stopped\0?\0?\0zombie\0", c.tc.task_state), threads, j || threads == 1 ? "" : "s", mem.vmas,
	    mem.mapped >> 10, pg[0], pg[1], pg[2]);
	if (c.has_ids && !img_load(&im, buf, dfd, FDINFO_MAGIC, "fdinfo", c.ids.files_id))
		while (memset(&fi, 0, sizeof(fi)), img_next(&im, img_fdinfo_fields, &fi) > 0) {
			ins_file(files, fi.id, fi.type, what, sizeof(what));
			out(1, j ? "%s{\"fd\":%u,\"what\":\"%s\"}" : "%s  fd %u: %s\n", j && nf++ ? "," : "", fi.fd,
			    ins_str(what, strlen(what)));
		}
	if (j)
		out(1, "]}");
}

static bool ins_cgset(pb_istream_t *is, const pb_field_t *f, void **arg)
{
	static img_cg_set s;

	(void)f;
	if (!pb_decode(is, img_cg_set_fields, &s))
		return false;
	if (s.id != *(uint32_t *)*arg)
		return true;
	for (pb_size_t i = 0; i < s.ctls_count; i++)
		out(1, cfg.json ? "%s{\"controllers\":\"%s\",\"path\":\"%s\"}" : "%s%s:%s", i ? cfg.json ? "," : " " : "",
		    ins_str(s.ctls[i].name, strlen(s.ctls[i].name)), ins_str(s.ctls[i].path, strlen(s.ctls[i].path)));
	return true;
}

static int cmd_inspect(void)
{
	static uint8_t *b_tree_m, *b_proc_m, *b_files_m;
	uint8_t *const b_tree = BIG(b_tree_m, IMG_MAX), *const b_proc = BIG(b_proc_m, IMG_MAX), *const b_files = BIG(b_files_m, IMG_MAX);
	struct img tree, files, im;
	img_inventory inv = { 0 };
	img_pstree p;
	img_core c = { 0 };
	img_cgroup cg = { 0 };
	stats_entry st;
	char parent[PATH_MAX] = "";
	unsigned threads, n = 0;
	uint32_t cgset;
	int dfd = open(cfg.args[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool j = cfg.json;

	ins_dir = cfg.args[0];
	if (dfd < 0)
		die("%s:", ins_dir);
	if (img_load(&im, b_proc, dfd, INVENTORY_MAGIC, "inventory", -1) || img_next(&im, img_inventory_fields, &inv) < 1)
		die("%s is not a checkpoint cr can read (its inventory.img is %s)", ins_dir,
		    faccessat_(dfd, "inventory.img", F_OK) ? "missing" : "damaged, see above");
	if (inv.img_version > 2)
		warn("%s was made by a newer CRIU (image version %u; cr knows 1 and 2): what follows may be incomplete",
		     ins_dir, inv.img_version);
	if (readlinkat(dfd, "parent", parent, sizeof(parent) - 1) < 0)
		parent[0] = '\0';
	if (faccessat_(dfd, "pstree.img", F_OK)) {
		/* a pre-dump: memory only */
		out(1, j ? "{\"dir\":\"%s\",\"img_version\":%u,\"pre_dump\":true}\n" :
			   "%s: a pre-dump (CRIU image version %u): memory pages only, no process tree; inspect the "
			   "checkpoint made on top of it\n", ins_str(ins_dir, strlen(ins_dir)), inv.img_version);
		close(dfd);
		return EXIT_OK;
	}
	if (img_load(&tree, b_tree, dfd, PSTREE_MAGIC, "pstree", -1)) {
		close(dfd);
		return EXIT_FAIL;
	}
	if (img_load(&files, b_files, dfd, FILES_MAGIC, "files", -1))
		files.buf = NULL;
	/* the root's core: the architecture and the cgroup set */
	memset(&p, 0, sizeof(p));
	if (!img_load(&im, b_proc, dfd, PSTREE_MAGIC, "pstree", -1) && img_next(&im, img_pstree_fields, &p) > 0 &&
	    !img_load(&im, b_proc, dfd, CORE_MAGIC, "core", p.pid))
		img_next(&im, img_core_fields, &c);
	cgset = c.tc.has_cg_set ? c.tc.cg_set : inv.root_cg_set;
	out(1, j ? "{\"dir\":\"%s\",\"img_version\":%u,\"arch\":\"%s\"" : "%s: CRIU image version %u, %s",
	    ins_str(ins_dir, strlen(ins_dir)), inv.img_version, nth("?\0x86_64\0arm\0aarch64\0ppc64\0s390\0mips\0loongarch64\0riscv64\0", c.mtype));
	out(1, j ? ",\"parent\":\"%s\",\"processes\":[" : "%s%s\n", j || !parent[0] ? "" : ", on top of ",
	    ins_str(parent, strlen(parent)));
	while (memset(&p, 0, sizeof(p)), threads = 0, p.threads.funcs.decode = ins_count, p.threads.arg = &threads,
	       img_next(&tree, img_pstree_fields, &p) > 0)
		ins_proc(dfd, &p, threads, &files, b_proc, !n++);
	out(1, j ? "],\"cgroup\":[" : "cgroup:");
	cg.sets.funcs.decode = ins_cgset, cg.sets.arg = &cgset;
	if (!img_load(&im, b_proc, dfd, CGROUP_MAGIC, "cgroup", -1))
		img_next(&im, img_cgroup_fields, &cg);
	else if (!j)
		out(1, " not recorded (no cgroup.img)");
	out(1, j ? "],\"stats\":" : "\n");
	stats_tail = "}}\n";
	if (!faccessat_(dfd, "stats-dump", F_OK) && !stats_read(dfd, ins_dir, "stats-dump", &st))
		stats_print("dump", 0, 0, &st, false);
	else
		out(1, j ? "null}\n" : "no dump statistics (stats-dump) here\n");
	close(dfd);
	return ins_bad ? EXIT_FAIL : EXIT_OK;
}

/*
 * --auto-dedup: CRIU punches the pages a dump writes again out of the
 * parent chain's pages files, so their hashes change with cr's consent.
 * man_chain_check() verifies the chain first (a dedup must not bless a
 * damaged parent); man_chain_rewrite() hashes each link again after it.
 */
static int man_chain_check(int dfd, const char *parent)
{
	struct verdict v = { 0 };
	int fd = openat(dfd, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	v.quiet = true;
	man_verify(fd, parent, &v, 0);
	close(fd);
	if (v.problems)
		warn("--auto-dedup would change the parent chain at %s, which fails verification (%u problem%s above): "
		     "nothing was done. Check it with 'cr verify', or dump without --auto-dedup",
		     parent, v.problems, v.problems == 1 ? "" : "s");
	return v.problems ? -1 : 0;
}

static int man_chain_rewrite(int dfd, const char *parent)
{
	char buf[64], shown[PATH_MAX];
	int fd = openat(dfd, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC), next, ret = 0;
	ssize_t n;

	snprintf(shown, sizeof(shown), "%s", parent);
	for (int depth = 0; fd >= 0 && depth < 64; depth++) {
		/* a link without a manifest stays without one */
		if ((n = read_file_at(fd, MANIFEST, buf, sizeof(buf) - 1)) >= 0) {
			buf[n] = '\0';
			ret |= man_write(fd, shown, strstr(buf, "\nr pages\n") != NULL);
		}
		next = openat(fd, "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = next;
		snprintf(shown + strlen(shown), sizeof(shown) - strlen(shown), "%s", "/parent");
	}
	close_keep(fd);
	return ret;
}

/* =============================== Commands ================================ */

/*
 * Every command validates everything it can before its first side effect
 * and may die() until then. From the moment criu runs, an image directory
 * is created or a cgroup is touched, helpers return -1 and the command ends
 * through its single `out:` label, which undoes what is left to undo and
 * reaps criu. Nothing reachable after the first side effect calls exit().
 */

/* An image directory being written: a fresh directory beside the target,
 * renamed into place only when CRIU succeeded. */
struct imgdir {
	char parent[PATH_MAX];	/* the target's parent directory, as given */
	char shown[PATH_MAX];	/* the same, absolute, for messages */
	char name[NAME_MAX + 1];	/* the target's last component */
	char tmp[NAME_MAX + 1];	/* the temporary directory's name */
	char made[PATH_MAX];	/* the topmost parent directory cr created, "" if none */
	int pfd;		/* the parent directory */
	int fd;			/* the temporary image directory */
	bool replace;		/* a checkpoint is already at the target (--force) */
	bool keep;		/* never discard: the images may be all that is left */
};

#define RENAME_EXCHANGE_ (1 << 1)

/* Before any side effect: is the target free, or may it be replaced? */
static void img_check(struct imgdir *d, const char *path)
{
	char inv[PATH_MAX + 16];
	struct stat st;

	if (split_path(path, d->parent, sizeof(d->parent), d->name, sizeof(d->name) - 32))
		usage_die("--image-path \"%s\" is not a usable directory name", path);
	d->pfd = d->fd = -1;
	if (lstat(path, &st)) {
		if (errno != ENOENT)
			die("image path %s:", path);
		return;
	}
	if (S_ISLNK(st.st_mode))
		die("image path %s is a symlink: give the directory it points to", path);
	if (!S_ISDIR(st.st_mode))
		die("image path %s exists and is not a directory", path);
	if (dir_is_empty(AT_FDCWD, path) == 1)
		return;
	if (!cfg.force)
		die("image path %s is not empty (a checkpoint is there?): choose another path, or add --force to "
		    "replace it once the new checkpoint has succeeded", path);
	/* --force swaps the old directory out and deletes it: only ever a
	 * checkpoint, never a directory that merely happens to be there */
	snprintf(inv, sizeof(inv), "%s/inventory.img", path);
	if (faccessat_(AT_FDCWD, inv, F_OK))
		die("image path %s holds no checkpoint (no inventory.img), so --force will not replace it: choose "
		    "another path", path);
	d->replace = true;
}

/* Create the parent (0700) and the temporary directory (0700) beside the
 * target. A temporary directory of the same name can only be left over from
 * a cr that was killed (pids repeat, in pid namespaces above all): its
 * files must not mix with the new checkpoint's, so it is removed first. */
static int img_create(struct imgdir *d)
{
	if (mkdir_p(d->parent, 0700, d->made)) {
		warn("create %s:", d->parent);
		return -1;
	}
	d->pfd = open(d->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->pfd < 0 || fd_path(d->pfd, d->shown, sizeof(d->shown))) {
		warn("open %s:", d->parent);
		return -1;
	}
	if (str_eq(d->shown, "/"))
		d->shown[0] = '\0';
	snprintf(d->tmp, sizeof(d->tmp), ".%.200s.cr-%d", d->name, (int)getpid());
	if (mkdirat(d->pfd, d->tmp, 0700) && (errno != EEXIST || rm_rf_at(d->pfd, d->tmp) || mkdirat(d->pfd, d->tmp, 0700))) {
		warn("create %s/%s:", d->shown, d->tmp);
		d->tmp[0] = '\0';	/* not ours to remove */
		return -1;
	}
	d->fd = openat(d->pfd, d->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d->fd < 0 || fchmod(d->fd, 0700)) {
		warn("open %s/%s:", d->shown, d->tmp);
		return -1;
	}
	return 0;
}

/*
 * Move the finished images into place. With --force the old checkpoint is
 * swapped out atomically (renameat2 RENAME_EXCHANGE) and removed only after
 * the new one is on disk (syncfs first: the old one is about to go). If the
 * rename fails the images stay where they are and cr says where: the tree
 * may already be gone, so they must never be deleted here.
 */
static int img_commit(struct imgdir *d)
{
	int r;

	if (d->replace) {
		if (syncfs(d->fd))
			warn("syncfs %s/%s:", d->shown, d->tmp);
		r = (int)syscall(SYS_renameat2, d->pfd, d->tmp, d->pfd, d->name, RENAME_EXCHANGE_);
	} else
		r = renameat(d->pfd, d->tmp, d->pfd, d->name);
	if (r) {
		warn("the checkpoint succeeded but cannot be moved to %s/%s (rename:%s); its images are in %s/%s",
		     d->shown, d->name, strerror(errno), d->shown, d->tmp);
		return -1;
	}
	if (d->replace && rm_rf_at(d->pfd, d->tmp))
		warn("remove the replaced checkpoint (now %s/%s):", d->shown, d->tmp);
	fsync(d->pfd);
	return 0;
}

/* After a failure: keep CRIU's log (moved beside the target as NAME.LOG
 * when it was inside the temporary directory), remove the rest. */
static void img_discard(struct imgdir *d, const char *log, char *kept, size_t size)
{
	char dst[NAME_MAX + 1];

	if (d->pfd < 0)
		return;	/* nothing was created */
	if (d->tmp[0]) {
		snprintf(dst, sizeof(dst), "%.*s.%s", NAME_MAX - 66, d->name, log ? log : "");
		if (log && !renameat(d->fd, log, d->pfd, dst))
			snprintf(kept, size, "%s/%s", d->shown, dst);
		if (rm_rf_at(d->pfd, d->tmp))
			warn("remove %s/%s:", d->shown, d->tmp);
		d->tmp[0] = '\0';
	}
	/* and the parents cr created for it (rmdir: only while empty; CRIU's
	 * log may have been kept there) */
	if (d->made[0]) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s", d->parent);
		while (!rmdir(p) && strcmp(p, d->made) && strrchr(p, '/'))
			*strrchr(p, '/') = '\0';
		d->made[0] = '\0';
	}
}

static void img_close(struct imgdir *d)
{
	close_keep(d->fd);
	close_keep(d->pfd);
	d->fd = d->pfd = -1;
}

/* Open (creating it 0700 if needed) --work-path. */
static int work_open(char *shown, size_t size)
{
	int fd;

	if (mkdir_p(cfg.work_path, 0700, NULL)) {
		warn("create --work-path %s:", cfg.work_path);
		return -1;
	}
	fd = open(cfg.work_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fd_path(fd, shown, size)) {
		warn("open --work-path %s:", cfg.work_path);
		close_keep(fd);
		return -1;
	}
	return fd;
}

/* Copy a boolean option into criu_opts when it is on. */
#define BOOL_OPT(o, f) \
	do { \
		if (cfg.f) \
			(o)->has_##f = true, (o)->f = true; \
	} while (0)

/* The options checkpoint, pre-dump and restore share. */
static void cmd_fill_opts(criu_opts *o, int img_fd, int wd_fd, const char *log)
{
	o->images_dir_fd = img_fd;
	if (wd_fd >= 0 && wd_fd != img_fd)
		o->has_work_dir_fd = true, o->work_dir_fd = wd_fd;
	o->has_log_level = true;
	o->log_level = (int32_t)cfg.log_level;
	o->has_log_file = true;
	snprintf(o->log_file, sizeof(o->log_file), "%s", log);
	/* Always on: a notification cr does not answer (cr killed) then
	 * makes CRIU abort and resume the tree instead of finishing a dump
	 * nobody will collect. */
	o->has_notify_scripts = true;
	o->notify_scripts = true;
	o->has_manage_cgroups_mode = true;
	o->manage_cgroups_mode = str_eq(cfg.cg_mode, "soft")	   ? criu_cg_mode_SOFT :
				 str_eq(cfg.cg_mode, "full")	   ? criu_cg_mode_FULL :
				 str_eq(cfg.cg_mode, "strict") ? criu_cg_mode_STRICT :
								   criu_cg_mode_IGNORE;
	if (cfg.timeout)
		o->has_timeout = true, o->timeout = cfg.timeout;
	BOOL_OPT(o, auto_dedup);
	if (cfg.cmd == C_PRE)
		return;
	BOOL_OPT(o, tcp_established);
	BOOL_OPT(o, ext_unix_sk);
	BOOL_OPT(o, shell_job);
	BOOL_OPT(o, file_locks);
	if (cfg.empty_ns[0])
		o->has_empty_ns = true, o->empty_ns = 0x40000000;	/* CLONE_NEWNET */
	for (int i = 0; i < cfg.external.n; i++)
		snprintf(o->external[o->external_count++], sizeof(o->external[0]), "%s", cfg.external.v[i]);
}

/*
 * page-server: the receiving side of a (pre-)dump sent with --page-server.
 * PAGE_SERVER_CHLD (keep_open) makes the page server a child of the swrk
 * worker, which reports its real pid and port; WAIT_PID then waits for it to
 * finish serving (criu-rpc.md 2). cr stays in the foreground, prints the
 * port on stdout, and exits with the page server's result.
 */
static int cmd_page_server(void)
{
	char criu[PATH_MAX], img_shown[PATH_MAX], sb[64];
	const char *log = cfg.log_file[0] ? cfg.log_file : "page-server.log";
	struct rpc r = { .sk = -1, .sigfd = -1, .status_fd = -1 };
	criu_req req;
	criu_resp resp;
	int img = -1, ret = EXIT_FAIL;

	if (strlen(cfg.address) > 63)
		usage_die("--address is longer than 63 bytes");
	if (rpc_find_criu(criu, sizeof(criu)))
		return EXIT_FAIL;
	r.sigfd = sig_setup(false);
	rpc_deadline(&r);
	r.status_fd = cfg.set[O_status_fd] ? (int)cfg.status_fd : -1;
	if (rpc_open(&r, criu, false) || rpc_version(&r))
		goto out;
	/* only once CRIU answers: created 0700 if missing (an existing
	 * directory is left as it is; the page files are 0600 in any case:
	 * cr's umask is 077) */
	if (mkdir_p(cfg.image_path, 0700, NULL) || (img = open(cfg.image_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fd_path(img, img_shown, sizeof(img_shown))) {
		warn("image path %s:", cfg.image_path);
		goto out;
	}
	r.hook = (struct hook_ctx){ img_shown, img_shown, 0, -1, 0, 0 };
	rpc_req_init(&req, criu_req_type_PAGE_SERVER_CHLD);
	req.has_keep_open = req.keep_open = true;
	req.has_opts = true;
	cmd_fill_opts(&req.opts, img, img, log);
	req.opts.has_ps = req.opts.ps.has_address = req.opts.ps.has_port = true;
	snprintf(req.opts.ps.address, sizeof(req.opts.ps.address), "%s", cfg.address);
	req.opts.ps.port = (int32_t)cfg.port;
	/*
	 * No notifications here: the page-server child sends its status-ready
	 * on the socket it shares with the swrk worker, and the ack can be
	 * read by the worker instead ("Invalid req"; seen about one run in
	 * three). CRIU writes --status-fd's byte itself (it opens the fd
	 * through /proc/<cr>/fd/N during option setup), so cr's own copy is
	 * closed as soon as the page server runs and the reader sees EOF
	 * right after the byte, or without one if it fails.
	 */
	req.opts.has_notify_scripts = false;
	if (r.status_fd >= 0)
		req.opts.has_status_fd = true, req.opts.status_fd = r.status_fd;
	if (rpc_call(&r, &req, &resp)) {
		warn("the page server did not start");
		goto out;
	}
	if (r.status_fd >= 0)
		close(r.status_fd), r.status_fd = -1;
	if (!resp.success || !resp.has_ps) {
		rpc_report_failure("page server", req.type, &resp, img, log, faccessat_(img, log, F_OK) ? NULL : log);
		goto out;
	}
	info("page server (pid %d) listens on %s:%d, writing into %s", resp.ps.pid, cfg.address, resp.ps.port, img_shown);
	out(1, "%d\n", resp.ps.port);
	rpc_req_init(&req, criu_req_type_WAIT_PID);
	req.has_pid = true;
	req.pid = (uint32_t)resp.ps.pid;
	if (rpc_call(&r, &req, &resp) || !resp.success || !resp.has_status) {
		warn("the page server could not be waited for");
		goto out;
	}
	if (WIFEXITED(resp.status) && !WEXITSTATUS(resp.status))
		ret = EXIT_OK;
	else
		warn("the page server failed (%s); its log: %s/%s", rpc_status_str(resp.status, sb, sizeof(sb)),
		     img_shown, log);
out:
	if (r.status_fd >= 0)
		close(r.status_fd);
	rpc_close(&r);
	close(img);
	return ret;
}

/* Is CAP_SYS_RESOURCE in cr's effective set? */
static bool has_cap_sys_resource(void)
{
	char buf[4096], *p;

	if (read_file_at(AT_FDCWD, "/proc/self/status", buf, sizeof(buf)) < 0 || !(p = strstr(buf, "CapEff:")))
		return false;
	return (scan_num(p + 7 + strspn(p + 7, " \t"), 16) >> 24) & 1;
}

/*
 * Before any lazy dump: without CAP_SYS_RESOURCE, CRIU's page server cannot
 * grow its pipe past fs.pipe-max-size, ignores that, and fails after the
 * first large request; the source tasks are then resumed while the restored
 * copy runs with almost none of its memory (machine-notes). CRIU does not
 * check this; cr refuses, so a lazy migration never ends in two copies.
 */
/* The pipe guard's verdict: 0 when CRIU's page server can grow its pipes
 * here, else fs.pipe-max-size as it is (-1: unreadable). */
static long long lazy_pipe_short(void)
{
	char buf[32];
	long long max = -1;

	if (read_file_at(AT_FDCWD, "/proc/sys/fs/pipe-max-size", buf, sizeof(buf)) > 0)
		max = (long long)scan_num(buf, 10);
	return has_cap_sys_resource() || max >= LAZY_PIPE_MIN ? 0 : max;
}

static void lazy_precheck(void)
{
	long long max = lazy_pipe_short();

	if (max)
		die("--lazy-pages refused: fs.pipe-max-size is %lld and cr lacks CAP_SYS_RESOURCE, so CRIU's page server "
		    "would fail after its first large transfer and leave two running copies. Raise it first: "
		    "sysctl -w fs.pipe-max-size=%u", max, LAZY_PIPE_MIN);
}

/*
 * Before a checkpoint or pre-dump, with --cgroup or --freeze: which tree,
 * which freezer, and whether anything else would be frozen with it. cr
 * decides which hierarchy's freezer is used: the one of --cgroup (a v1
 * hierarchy without a freezer is refused), or for a bare PID its v2 cgroup
 * when that is not the root, else its v1 freezer cgroup. CRIU freezes and
 * seizes every task of that cgroup and its descendants, and keeps the ones
 * outside the tree stopped until the dump ends, so those are refused unless
 * --allow-foreign. May die: nothing has happened yet.
 */
static bool cmd_dump_cgroup(pid_t *pid, struct cg_dir *cg)
{
	static struct pidset all, foreign;
	bool freeze = cfg.set[O_freeze] ? cfg.freeze : cfg.cgroup[0] != 0;
	struct cg_layout l;
	char rel[PATH_MAX];

	if (!cfg.cgroup[0] && !freeze)
		return false;
	cg_layout_resolve(&l, cg, true);
	if (cfg.cgroup[0]) {
		if (str_eq(cg->rel, "/"))
			usage_die("--cgroup %s is a hierarchy's root cgroup, which holds every process: give the tree's "
				  "own cgroup", cg->path);
		/* a pid given wins: the cgroup is then only what is frozen */
		if (!*pid)
			*pid = cg_find_root(cg);
	} else {
		int v1 = -1;

		for (int i = 0; i < l.nv1; i++)
			if (in_list("freezer", l.v1[i].ctrl))
				v1 = i;
		memset(cg, 0, sizeof(*cg));
		if (l.v2[0] && !proc_cgroup(*pid, NULL, rel, sizeof(rel)) && !str_eq(rel, "/")) {
			cg->v2 = true;
			snprintf(cg->mnt, sizeof(cg->mnt), "%s", l.v2);
		} else if (v1 >= 0 && !proc_cgroup(*pid, "freezer", rel, sizeof(rel)) && !str_eq(rel, "/")) {
			snprintf(cg->mnt, sizeof(cg->mnt), "%s", l.v1[v1].path);
			snprintf(cg->ctrl, sizeof(cg->ctrl), "%s", l.v1[v1].ctrl);
		} else
			usage_die("--freeze: pid %d is in the root cgroup of every freezer; put the tree in a cgroup of its "
				  "own (and give --cgroup), or drop --freeze", (int)*pid);
		snprintf(cg->rel, sizeof(cg->rel), "%s", rel);
		snprintf(cg->path, sizeof(cg->path), "%.2047s%.2047s", cg->mnt, rel);
		info("--freeze: pid %d is in %s", (int)*pid, cg->path);
	}
	if (!freeze)
		return false;
	if (!cg->v2 && !in_list("freezer", cg->ctrl))
		usage_die("--cgroup %s is in the v1 %s hierarchy, which has no freezer: give its freezer cgroup "
			  "(or the v2 one), or --freeze=false", cg->path, cg->ctrl);
	if (str_eq(cg->rel, "/"))
		usage_die("--cgroup %s is a hierarchy's root cgroup, which cannot be frozen", cg->path);
	if (strlen(cg->path) > MAX_VALUE)
		usage_die("the freezer cgroup path %s is longer than %d bytes", cg->path, MAX_VALUE);
	if (cg_frozen(cg) < 0)
		die("--cgroup %s: read its freezer state:", cg->path);
	all.n = foreign.n = 0;
	if (cg_collect_at(AT_FDCWD, cg->path, &all))
		die("--cgroup %s: read its processes:", cg->path);
	for (int i = 0; i < all.n; i++)
		if (!proc_in_tree(all.v[i], *pid))
			foreign.v[foreign.n++] = all.v[i];
	if (foreign.n && !cfg.allow_foreign) {
		warn_pids("processes in the cgroup but not in the tree", &foreign);
		die("%s holds %d process(es) outside the tree of pid %d: CRIU would freeze them and keep them stopped "
		    "until the checkpoint ends. Move them out, or add --allow-foreign", cg->path, foreign.n, (int)*pid);
	}
	return true;
}

/* checkpoint and pre-dump: one operation's state, shared by its phases */
struct dump {
	bool pre, freeze, bad_manifest;
	const char *what, *log;
	pid_t pid;
	char criu[PATH_MAX], wd_shown[PATH_MAX], log_shown[PATH_MAX * 2], title[64], img_tmp[PATH_MAX * 2];
	int64_t t0;
	struct imgdir d;
	struct cg_dir cg;
	int frozen0, wd;
	struct rpc r;
	criu_req req;
	criu_resp resp, *rp;
};

/*
 * The image directory and CRIU, and the refusals that need CRIU's answer
 * (no userfaultfd for --lazy-pages, no soft-dirty for a pre-dump chain).
 * The first side effects: -1 unwinds.
 */
static int dump_open(struct dump *o)
{
	criu_features f;
	struct stat st;

	if (img_create(&o->d))
		return -1;
	if (cfg.parent_path[0] && (fstatat(o->d.fd, cfg.parent_path, &st, 0) || !S_ISDIR(st.st_mode))) {
		warn("--parent-path %s: no such directory relative to the image directory %s/%s", cfg.parent_path,
		     o->d.shown, o->d.name);
		return -1;
	}
	if (cfg.parent_path[0] && cfg.auto_dedup && man_chain_check(o->d.fd, cfg.parent_path))
		return -1;
	if (rpc_open(&o->r, o->criu, cfg.shell_job) || rpc_version(&o->r))
		return -1;
	if ((o->pre || cfg.parent_path[0] || cfg.lazy_pages) && rpc_features(&o->r, &f))
		return -1;
	if (cfg.lazy_pages && !f.lazy_pages) {
		warn("--lazy-pages cannot work here: CRIU says this kernel lacks non-cooperative userfaultfd");
		return -1;
	}
	if ((o->pre || cfg.parent_path[0]) && !f.mem_track) {
		warn("%s cannot work here: this kernel has no soft-dirty memory tracking (CONFIG_MEM_SOFT_DIRTY), "
		     "which %s needs. Use a plain 'cr checkpoint' (add --leave-running to keep the tree running), "
		     "or a kernel built with CONFIG_MEM_SOFT_DIRTY=y", o->pre ? "pre-dump" : "--parent-path",
		     o->pre ? "pre-dump" : "a checkpoint on top of a pre-dump");
		return -1;
	}
	o->wd = o->d.fd;
	if (cfg.work_path[0] && (o->wd = work_open(o->wd_shown, sizeof(o->wd_shown))) < 0)
		return -1;
	return 0;
}

/* The DUMP (or SINGLE_PRE_DUMP) request, from the options. */
static void dump_request(struct dump *o)
{
	criu_opts *op = &o->req.opts;

	/* SINGLE_PRE_DUMP, not PRE_DUMP: a PRE_DUMP leaves swrk waiting for
	 * the rest of its chain, and when cr hangs up it prints "Can't recv
	 * request: Connection reset by peer" on cr's stderr (both 3.15+) */
	rpc_req_init(&o->req, o->pre ? criu_req_type_SINGLE_PRE_DUMP : criu_req_type_DUMP);
	o->req.has_opts = true;
	cmd_fill_opts(op, o->d.fd, o->wd, o->log);
	op->has_pid = true;
	op->pid = o->pid;
	if (cfg.page_server[0]) {
		int port;

		op->has_ps = true;
		parse_hostport(cfg.page_server, op->ps.address, &port);
		op->ps.has_address = true;
		op->ps.has_port = true;
		op->ps.port = port;
		BOOL_OPT(op, lazy_pages);
	}
	if (cfg.ps_fd >= 0) {
		/* migrate: the pages go through cr's own socket (criu-rpc.md 1.4).
		 * CRIU ignores ps.fd for a lazy dump, whose page server would
		 * listen on every address: criu_conf says "ps-socket FD" then. */
		op->has_ps = op->ps.has_fd = true;
		op->ps.fd = cfg.ps_fd;
		BOOL_OPT(op, lazy_pages);
	}
	if (cfg.criu_conf) {
		op->has_config_file = true;
		snprintf(op->config_file, sizeof(op->config_file), "%s", cfg.criu_conf);
	}
	if (o->freeze) {
		op->has_freeze_cgroup = true;
		snprintf(op->freeze_cgroup, sizeof(op->freeze_cgroup), "%.1023s", o->cg.path);
	}
	if (cfg.parent_path[0]) {
		op->has_parent_img = true;
		snprintf(op->parent_img, sizeof(op->parent_img), "%s", cfg.parent_path);
		op->has_track_mem = true;
		op->track_mem = true;
	}
	if (!o->pre) {
		BOOL_OPT(op, leave_running);
		/* migrate: the tree waits, stopped, until the target has it
		 * (after a lazy dump, until its memory has moved) */
		if (cfg.migrating)
			op->has_leave_stopped = op->leave_stopped = true;
		BOOL_OPT(op, tcp_skip_in_flight);
		BOOL_OPT(op, link_remap);
		if (cfg.network_lock[0]) {
			op->has_network_lock = true;
			op->network_lock = str_eq(cfg.network_lock, "nftables") ? criu_network_lock_method_NFTABLES :
					   str_eq(cfg.network_lock, "skip")     ? criu_network_lock_method_SKIP :
										  criu_network_lock_method_IPTABLES;
		}
	}
}

/*
 * CRIU succeeded: the manifest (CRIU has let go of the tree, so hashing
 * adds no downtime; a checkpoint that cannot get one is still kept, and
 * said so, exit 1: the tree may be gone), the rename into place,
 * --remove-cgroup and the statistics. Returns the exit status.
 */
static int dump_done(struct dump *o)
{
	stats_entry st_e;
	int ret;

	if (!cfg.migrating && man_write(o->d.fd, o->img_tmp, cfg.page_server[0])) {
		warn("the %s is kept without a manifest: restore will say it cannot be verified", o->what);
		o->bad_manifest = true;
	}
	if (cfg.parent_path[0] && cfg.auto_dedup && man_chain_rewrite(o->d.fd, cfg.parent_path)) {
		warn("--auto-dedup changed the parent chain at %s and its manifest could not follow: restore will "
		     "refuse it until you pass --no-verify", cfg.parent_path);
		o->bad_manifest = true;
	}
	if (img_commit(&o->d)) {
		o->d.keep = true;
		return EXIT_FAIL;
	}
	if (o->r.interrupted)
		warn("%s had already completed when %s arrived; it is kept", o->title, sig_name(o->r.interrupted));
	info("%s written to %s/%s", o->title, o->d.shown, o->d.name);
	ret = o->bad_manifest ? EXIT_FAIL : EXIT_OK;
	if (cfg.remove_cgroup) {
		if (o->frozen0 >= 0)
			cg_set_frozen(&o->cg, o->frozen0);
		o->frozen0 = -1;
		if (cg_rmdir_tree(AT_FDCWD, o->cg.path))
			warn("--remove-cgroup: remove %s:", o->cg.path);
	}
	snprintf(o->img_tmp, sizeof(o->img_tmp), "%s/%s", o->d.shown, o->d.name);	/* where it is now */
	if ((cfg.print_stats || cfg.migrating) &&
	    !stats_read(o->wd, o->wd == o->d.fd ? o->img_tmp : o->wd_shown, "stats-dump", &st_e)) {
		cfg.last = st_e;
		if (cfg.print_stats && !cfg.migrating)
			stats_print(o->what, o->pid, (uint64_t)(now_us() - o->t0), &st_e, cfg.lazy_pages);
	} else if (cfg.print_stats && !cfg.migrating) {
		warn("the %s itself is complete, in %s; only its statistics are missing", o->what, o->img_tmp);
		ret = EXIT_FAIL;	/* what was asked for is not all done */
	}
	return ret;
}

/*
 * CRIU failed (or cr gave up on it): what to keep, and why, with CRIU's
 * log. If CRIU acked post-dump, then died or timed out before its reply,
 * the tree may be gone, and then these images are all that is left of it.
 */
static void dump_failed(struct dump *o)
{
	if (o->r.interrupted && !o->r.killed)
		warn("%s interrupted by %s", o->title, sig_name(o->r.interrupted));
	o->d.keep = o->r.post_dump && !o->rp && !o->pre && !proc_alive(o->pid);
	if (o->d.keep)
		warn("CRIU failed after the images were complete and pid %d is gone: the images are kept in %s; "
		     "check them, then move them into place or remove them", (int)o->pid, o->img_tmp);
	if (o->wd == o->d.fd && !o->d.keep)
		img_discard(&o->d, o->log, o->log_shown, sizeof(o->log_shown));
	else
		snprintf(o->log_shown, sizeof(o->log_shown), "%s/%s", o->wd == o->d.fd ? o->img_tmp : o->wd_shown, o->log);
	if (o->log_shown[0] && faccessat_(AT_FDCWD, o->log_shown, F_OK))
		o->log_shown[0] = '\0';	/* CRIU wrote none */
	if (cfg.abandoned)	/* cr's own doing: the caller says why */
		info("%s abandoned (CRIU's log: %s)", o->title, o->log_shown);
	else
		rpc_report_failure(o->title, o->req.type, o->rp, AT_FDCWD, o->log_shown, o->log_shown[0] ? o->log_shown : NULL);
	if (!o->pre && !o->d.keep && !cfg.abandoned && !cfg.migrating)
		warn("%s: the tree %s", o->title, proc_alive(o->pid) ? "is running" : "is not running any more");
}

/*
 * checkpoint (dump) and pre-dump: checks that may die (nothing has happened
 * yet), then open, request, call, and done or failed; one way out, which
 * leaves the freezer as it was found, whatever happened to CRIU.
 */
static int cmd_dump(void)
{
	struct dump o_ = { 0 }, *const o = &o_;	/* migrate runs several */
	int ret = EXIT_FAIL;

	o->pre = cfg.cmd == C_PRE;
	o->what = o->pre ? "pre-dump" : "checkpoint";
	o->log = cfg.log_file[0] ? cfg.log_file : o->pre ? "pre-dump.log" : "dump.log";
	o->pid = cfg.nargs ? cfg_parse_pid(cfg.args[0]) : 0;
	o->t0 = now_us();
	o->freeze = cmd_dump_cgroup(&o->pid, &o->cg);
	o->frozen0 = o->freeze ? cg_frozen(&o->cg) : -1;
	o->r = (struct rpc){ .sk = -1, .sigfd = -1, .status_fd = -1 };
	o->wd = -1;
	img_check(&o->d, cfg.image_path);
	if (cfg.lazy_pages)
		lazy_precheck();
	if (rpc_find_criu(o->criu, sizeof(o->criu)))
		return EXIT_FAIL;
	snprintf(o->title, sizeof(o->title), "%s of pid %d", o->what, (int)o->pid);

	/* side effects from here on */
	o->r.sigfd = sig_setup(false);
	rpc_deadline(&o->r);
	if (dump_open(o))
		goto out;
	dump_request(o);
	info("%s into %s/%s (via %s/%s)", o->title, o->d.shown, o->d.name, o->d.shown, o->d.tmp);
	snprintf(o->img_tmp, sizeof(o->img_tmp), "%s/%s", o->d.shown, o->d.tmp);
	o->r.hook = (struct hook_ctx){ o->img_tmp, o->wd == o->d.fd ? o->img_tmp : o->wd_shown, o->pid, -1, 0, 0 };
	o->r.status_fd = cfg.set[O_status_fd] ? (int)cfg.status_fd : -1;
	unlinkat(o->wd, o->log, 0);	/* never quote an earlier run's log as this one's */
	if (!rpc_call(&o->r, &o->req, &o->resp))
		o->rp = &o->resp;
	if (o->rp && o->rp->success && faccessat_(o->d.fd, "inventory.img", F_OK)) {
		warn("CRIU reported success but wrote no inventory.img: this is not a checkpoint");
		o->rp->success = false;
	}
	if (o->rp && o->rp->success)
		ret = dump_done(o);
	else
		dump_failed(o);
out:
	if (o->frozen0 >= 0)
		cg_set_frozen(&o->cg, o->frozen0);
	if (ret != EXIT_OK && !o->d.keep)
		img_discard(&o->d, NULL, NULL, 0);
	if (o->wd >= 0 && o->wd != o->d.fd)
		close(o->wd);
	if (o->r.status_fd >= 0)
		close(o->r.status_fd);	/* without the byte: the page server never got ready */
	img_close(&o->d);
	rpc_close(&o->r);
	return ret;
}

/* Write pid to file atomically (a temporary file renamed over it). */
static int write_pid_file(const char *file, pid_t pid)
{
	char tmp[PATH_MAX], buf[32];
	int fd, n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);

	snprintf(tmp, sizeof(tmp), "%s.cr-%d", file, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || fchmod(fd, 0644) || write_all(fd, buf, (size_t)n) || close(fd) || rename(tmp, file)) {
		warn("write --pid-file %s:", file);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/*
 * restore --wait: the restored root is cr's child (restore-sibling). Forward
 * SIGINT, SIGTERM and SIGHUP to it and exit with its status, 128+signal when
 * a signal ended it (as tini and catatonit do).
 */
static int cmd_wait_tree(pid_t root, int sigfd, int pending)
{
	struct pollfd pfd = { sigfd, POLLIN, 0 };
	int st;

	if (pending)
		kill(root, pending);
	for (;;) {
		struct signalfd_siginfo si;
		pid_t w = waitpid(root, &st, WNOHANG);

		if (w == root)
			break;
		if (w < 0 && errno != EINTR) {
			warn("wait for restored pid %d:", (int)root);
			return EXIT_FAIL;
		}
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			warn("poll:");
			return EXIT_FAIL;
		}
		while (read(sigfd, &si, sizeof(si)) == sizeof(si))
			if (si.ssi_signo != SIGCHLD) {
				info("forwarding %s to %d", sig_name((int)si.ssi_signo), (int)root);
				kill(root, (int)si.ssi_signo);
			}
	}
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/*
 * restore --lazy-pages: CRIU's RPC cannot start the lazy-pages daemon, so cr
 * runs `criu lazy-pages` itself (CLI), with the same work directory (it
 * talks to the restore through lazy-pages.socket there), and waits for that
 * socket before it restores. Returns the daemon's pid, or -1.
 */
static pid_t lazy_daemon_start(const char *criu, const char *img, const char *wd_path, int wd)
{
	char host[64], port[16], lvl[8];
	const char *argv[16] = { criu, "lazy-pages", "--page-server" };
	int p, n = 3;
	pid_t pid;

	if (cfg.ps_fd >= 0) {
		/* migrate: the pages come through cr's socket, fd ps_fd */
		snprintf(port, sizeof(port), "%d", cfg.ps_fd);
		argv[n++] = "--ps-socket", argv[n++] = port;
	} else {
		parse_hostport(cfg.page_server, host, &p);
		snprintf(port, sizeof(port), "%d", p);
		argv[n++] = "--address", argv[n++] = host, argv[n++] = "--port", argv[n++] = port;
	}
	snprintf(lvl, sizeof(lvl), "-v%u", cfg.log_level);
	argv[n++] = "-D", argv[n++] = img, argv[n++] = "-W", argv[n++] = wd_path;
	argv[n++] = "-o", argv[n++] = "lazy-pages.log", argv[n++] = lvl;
	unlinkat(wd, "lazy-pages.socket", 0);
	pid = _Fork();
	if (pid == 0) {
		if (child_prepare(false, false) || (cfg.ps_fd >= 0 && fcntl(cfg.ps_fd, F_SETFD, 0)))
			_exit(127);
		execv(criu, (char *const *)argv);
		_exit(127);
	}
	if (pid < 0) {
		warn("fork:");
		return -1;
	}
	for (int i = 0; i < 1000; i++) {
		int st;

		if (!faccessat_(wd, "lazy-pages.socket", F_OK))
			return pid;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			warn("criu lazy-pages exited before it was ready (see %s/lazy-pages.log)", wd_path);
			return -1;
		}
		usleep(10000);
	}
	warn("criu lazy-pages did not create %s/lazy-pages.socket within 10 s", wd_path);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/*
 * Wait for criu lazy-pages to end, as long as it makes progress: the bytes
 * it reads and writes (/proc/PID/io) or the migration stream's. After
 * --timeout, or the stall bound without progress (migration; else 300 s),
 * or at SIGINT/SIGTERM/SIGHUP, it is killed. 0 with its wait status, -1
 * when it was stopped (said why).
 */
static int lazy_wait(pid_t pid, int *st)
{
	unsigned quiet_s = cfg.timeout ? cfg.timeout : cfg.stall_s ? cfg.stall_s : 300;
	unsigned long long last = 0, now;
	int64_t quiet = now_ms();
	char path[32], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	for (int ms = 1;; ms = ms < 100 ? ms * 2 : ms) {
		struct signalfd_siginfo si;
		pid_t w = waitpid(pid, st, WNOHANG);

		if (w == pid)
			return 0;
		now = cfg.moved ? *cfg.moved : 0;
		if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) > 0)
			for (p = buf; (p = strchr(p, ':')); p++)
				now += scan_num(p + 1 + strspn(p + 1, " "), 10);
		if (now != last)
			last = now, quiet = now_ms();
		if (cfg.sigfd > 0 && read(cfg.sigfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGCHLD)
			warn("got %s while criu lazy-pages fetched the pages: stopping it", sig_name((int)si.ssi_signo));
		else if (now_ms() - quiet < (int64_t)quiet_s * 1000) {
			usleep((useconds_t)ms * 1000);
			continue;
		} else
			warn("criu lazy-pages made no progress for %u s: stopping it", quiet_s);
		kill(pid, SIGKILL);
		waitpid(pid, st, 0);
		return -1;
	}
}

/* restore: one operation's state, shared by its phases */
struct restore {
	const char *log;
	char criu[PATH_MAX], img_shown[PATH_MAX], wd_shown[PATH_MAX], log_shown[PATH_MAX * 2], title[64];
	int64_t t0;
	struct rpc r;
	criu_req req;
	criu_resp resp, *rp;
	int img, wd;
	pid_t lazyd, root;
	struct cg_target *t;
	struct cg_layout l;
	struct cg_dir cg;
	bool misplaced;
};

/*
 * Before anything happens (so it may die): a checkpoint is there, it is
 * intact (its manifest, unless --no-verify; before CRIU reads anything: a
 * damaged image restores as corrupt memory, or hangs CRIU on a truncated
 * pages file), and --pid-file can be written.
 */
static void restore_check(struct restore *o)
{
	struct verdict v = { 0 };

	o->img = open(cfg.image_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->img < 0)
		die("image path %s:", cfg.image_path);
	if (faccessat_(o->img, "inventory.img", R_OK))
		die("image path %s is not a checkpoint (no inventory.img in it)", cfg.image_path);
	if (!cfg.no_verify && !cfg.migrating) {
		v.quiet = true;
		man_verify(o->img, cfg.image_path, &v, 0);
		if (v.problems)
			die("%s failed verification (%u problem%s above): nothing was restored. Restore from an intact copy, "
			    "or with --no-verify if you know better", cfg.image_path, v.problems, v.problems == 1 ? "" : "s");
		if (v.unverified)
			warn("%s: %s has no %s (made by plain CRIU?): restoring it unverified", cfg.image_path,
			     v.dirs > 1 ? "a pre-dump of its chain" : "it", MANIFEST);
		else
			info("verified %s: %u files, %llu MiB in %u director%s", cfg.image_path, v.files, v.bytes >> 20,
			     v.dirs, v.dirs == 1 ? "y" : "ies");
	}
	if (!strncmp(cfg.image_path, "/proc/", 6))	/* receive's tmpfs, attached nowhere */
		snprintf(o->img_shown, sizeof(o->img_shown), "%s", cfg.image_path);
	else if (fd_path(o->img, o->img_shown, sizeof(o->img_shown)))
		die("image path %s:", cfg.image_path);
	if (cfg.pid_file[0]) {
		char dir[PATH_MAX], base[NAME_MAX + 1];

		if (split_path(cfg.pid_file, dir, sizeof(dir), base, sizeof(base)) || access(dir, W_OK))
			die("--pid-file %s: its directory %s cannot be written", cfg.pid_file, dir);
	}
}

/* The work directory, CRIU, criu lazy-pages, the cgroups and the RESTORE
 * request. -1 unwinds. */
static int restore_open(struct restore *o)
{
	criu_opts *op = &o->req.opts;

	if (cfg.work_path[0] && (o->wd = work_open(o->wd_shown, sizeof(o->wd_shown))) < 0)
		return -1;
	if (rpc_open(&o->r, o->criu, cfg.shell_job) || rpc_version(&o->r))
		return -1;
	if (cfg.lazy_pages && (o->lazyd = lazy_daemon_start(o->criu, o->img_shown, o->wd_shown, o->wd)) < 0)
		return -1;
	rpc_req_init(&o->req, criu_req_type_RESTORE);
	o->req.has_opts = true;
	cmd_fill_opts(op, o->img, o->wd, o->log);
	/* criu's children start where criu is: move it first, and never
	 * restore when that failed (the tree would land in cr's own cgroup) */
	if (cfg.cgroup[0] && (cg_prepare_target(&o->l, &o->cg, o->t) || cg_fill_roots(&o->l, o->t, op) || cg_enter(o->t, o->r.pid)))
		return -1;
	BOOL_OPT(op, tcp_close);
	BOOL_OPT(op, lazy_pages);
	if (cfg.wait)
		op->has_rst_sibling = true, op->rst_sibling = true;
	if (cfg.root[0]) {
		op->has_root = true;
		snprintf(op->root, sizeof(op->root), "%s", cfg.root);
	}
	for (int i = 0; i < cfg.inherit_fd.n; i++) {
		const char *v = cfg.inherit_fd.v[i], *colon = strrchr(v, ':');
		inherit_fd *ifd = &op->inherit_fd[op->inherit_fd_count++];

		snprintf(ifd->key, sizeof(ifd->key), "%.*s", (int)(colon - v), v);
		ifd->fd = (int)scan_num(colon + 1, 10);
	}
	return 0;
}

/* CRIU failed: why, with its log; a tree it restored but never let go
 * would wait forever, and is killed. */
static void restore_failed(struct restore *o)
{
	snprintf(o->log_shown, sizeof(o->log_shown), "%s/%s", o->wd_shown, o->log);
	if (o->r.interrupted && !o->r.killed && !cfg.abandoned)
		warn("restore interrupted by %s", sig_name(o->r.interrupted));
	rpc_report_failure(o->title, o->req.type, o->rp, o->wd, o->log, faccessat_(o->wd, o->log, F_OK) ? NULL : o->log_shown);
	if (proc_alive(o->r.restored) && o->r.resumed)
		warn("CRIU failed after it had let the restored tree run: pid %d is there; check it (and kill it "
		     "if it must not run)", (int)o->r.restored);
	else if (proc_alive(o->r.restored)) {
		static struct pidset tree;

		proc_tree(o->r.restored, &tree);
		pids_signal(&tree, SIGKILL);
		warn("the restored tree (pid %d) never ran: CRIU failed before it let it go, so cr killed it",
		     (int)o->r.restored);
	}
}

/* CRIU restored the tree: is every task in its cgroups, the pid file, the
 * statistics (each failure: exit 1, the tree runs all the same). */
static void restore_done(struct restore *o)
{
	stats_entry st_e;

	if (cfg.cgroup[0]) {
		static struct pidset tree, stray;

		proc_tree(o->root, &tree);
		stray.n = 0;
		for (int i = 0; i < tree.n; i++)
			for (int k = 0; k < o->t->n; k++)
				if (cg_check_member(&o->t->d[k], tree.v[i])) {
					stray.v[stray.n++] = tree.v[i];
					break;
				}
		if (stray.n) {
			warn_pids("restored processes outside the --cgroup", &stray);
			warn("the tree (pid %d) runs, but not all of it in %s (--manage-cgroups-mode %s moved them?)",
			     (int)o->root, o->cg.path, cfg.cg_mode);
			o->misplaced = true;
		}
	}
	o->t->n = 0;	/* the cgroups stay: the tree is in them */
	if (cfg.pid_file[0] && write_pid_file(cfg.pid_file, o->root)) {
		warn("the tree was restored as pid %d", (int)o->root);
		o->misplaced = true;	/* exit 1: what was asked for is not all done */
	}
	if (cfg.print_stats && !stats_read(o->wd, o->wd_shown, "stats-restore", &st_e))
		stats_print("restore", o->root, (uint64_t)(now_us() - o->t0), &st_e, false);
	else if (cfg.print_stats) {
		warn("the restore itself is complete (pid %d); only its statistics are missing", (int)o->root);
		o->misplaced = true;
	}
}

/* The tree runs: its pid on stdout, then, for a lazy restore, the wait
 * until criu lazy-pages has fetched every page (the move is complete only
 * then; receive waits for it itself, telling the source). Exit status. */
static int restore_lazy_end(struct restore *o)
{
	int ret = (!cfg.json && !cfg.migrating && out(1, "%d\n", (int)o->root)) || o->misplaced ? EXIT_FAIL : EXIT_OK;
	int st = -1;

	if (o->lazyd > 0 && cfg.migrating && ret == EXIT_OK) {
		cfg.lazyd = o->lazyd;
		o->lazyd = -1;
	}
	if (o->lazyd <= 0)
		return ret;
	info("restored pid %d; waiting for criu lazy-pages to fetch the remaining pages", (int)o->root);
	if (lazy_wait(o->lazyd, &st))
		st = -1;
	o->lazyd = -1;
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		warn("criu lazy-pages failed (%s; see %s/lazy-pages.log): the restored tree (pid %d) may be "
		     "missing memory", rpc_status_str(st, o->title, sizeof(o->title)), o->wd_shown, (int)o->root);
		ret = EXIT_FAIL;
	}
	return ret;
}

/*
 * restore: checks that may die, then (as a subreaper: whatever criu forked
 * and left behind when a restore fails comes to cr, which ends it; what cr
 * had before is not its to end) open, call, and failed or done; one way
 * out, which ends criu lazy-pages and what a failed restore left.
 */
static int cmd_restore(void)
{
	static struct pidset before, left;
	static struct cg_target *t_m;
	struct restore o_ = { 0 }, *const o = &o_;
	int ret = EXIT_FAIL;

	o->log = cfg.log_file[0] ? cfg.log_file : "restore.log";
	snprintf(o->title, sizeof(o->title), "restore");
	o->t0 = now_us();
	o->r = (struct rpc){ .sk = -1, .sigfd = -1, .status_fd = -1 };
	o->lazyd = -1;
	o->t = BIG(t_m, sizeof(struct cg_target));
	restore_check(o);
	if (rpc_find_criu(o->criu, sizeof(o->criu)))
		return EXIT_FAIL;
	if (cfg.cgroup[0])
		cg_layout_resolve(&o->l, &o->cg, false);
	o->wd = o->img;
	snprintf(o->wd_shown, sizeof(o->wd_shown), "%s", o->img_shown);

	/* side effects from here on */
	proc_tree(getpid(), &before);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	o->r.sigfd = sig_setup(cfg.wait);
	rpc_deadline(&o->r);
	if (restore_open(o))
		goto out;
	info("restoring from %s", o->img_shown);
	o->r.hook = (struct hook_ctx){ o->img_shown, o->wd_shown, 0, -1, 0, 0 };
	unlinkat(o->wd, o->log, 0);	/* never quote an earlier run's log as this one's */
	if (!rpc_call(&o->r, &o->req, &o->resp))
		o->rp = &o->resp;
	if (!o->rp || !o->rp->success || !o->rp->has_restore) {
		restore_failed(o);
		goto out;
	}
	o->root = o->rp->restore.pid;
	rpc_close(&o->r);
	prctl(PR_SET_CHILD_SUBREAPER, 0);	/* the tree's own orphans go to init again */
	restore_done(o);
	if (cfg.wait) {
		info("restored pid %d; waiting for it", (int)o->root);
		ret = cmd_wait_tree(o->root, o->r.sigfd, o->r.interrupted);
		goto out;
	}
	if (o->r.interrupted)
		warn("the restore had already completed when %s arrived", sig_name(o->r.interrupted));
	cfg.restored = o->root;
	ret = restore_lazy_end(o);
out:
	if (o->lazyd > 0) {
		kill(o->lazyd, SIGKILL);
		waitpid(o->lazyd, NULL, 0);
	}
	rpc_close(&o->r);
	if (!o->rp || !o->rp->success || !o->rp->has_restore) {
		/* a half-restored task criu left (criu killed, --timeout); not
		 * what cr had before (receive's pump), not a tree CRIU let run */
		proc_tree(getpid(), &left);
		for (int i = 1; i < left.n; i++)
			if (!pidset_has(&before, left.v[i]) && !(o->r.resumed && proc_in_tree(left.v[i], o->r.restored)))
				kill(left.v[i], SIGKILL);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	cg_undo_target(o->t);
	if (o->wd != o->img)
		close(o->wd);
	close(o->img);
	return ret;
}

/*
 * check's report: one line a fact or verdict, "KEY  VALUE", or with --json
 * one member of one object (the key in lower case, '/' dropped, ' ' and '-'
 * as '_'). A fact (ok < 0) is a string. A verdict is yes (1), no (0) or
 * unknown (2), with why and the fix when known: an indented "fix:" line,
 * or {"ok":true|false|null,"why":...,"fix":...}.
 */
static void chk(const char *key, int ok, const char *why, const char *fix)
{
	static bool more;
	char k[16];
	size_t n = 0;

	if (!cfg.json) {
		out(1, "%-12s %s%s\n", key, ok == 0 ? "no: " : ok == 2 ? "unknown: " : "", why ? why : "yes");
		if (fix)
			out(1, "             fix: %s\n", fix);
		return;
	}
	for (; *key && n < sizeof(k) - 1; key++)
		if (*key != '/')
			k[n++] = *key == ' ' || *key == '-' ? '_' : *key;
	k[n] = '\0';
	out(1, "%s\"%s\":", more ? "," : "{", k);
	more = true;
	if (ok < 0)
		out(1, "\"%s\"", ins_str(why, strlen(why)));
	else
		out(1, "{\"ok\":%s,\"why\":%s%s%s,\"fix\":%s%s%s}", ok == 1 ? "true" : ok ? "null" : "false",
		    why ? "\"" : "", why ? ins_str(why, strlen(why)) : "null", why ? "\"" : "",
		    fix ? "\"" : "", fix ? ins_str(fix, strlen(fix)) : "null", fix ? "\"" : "");
}

/*
 * One hierarchy for check: where it is, what it holds, whether its freezer
 * works and whether cr can create cgroups in it (a probe cgroup, made and
 * removed at once).
 */
static void cmd_check_hierarchy(const char *kind, const char *mnt, const char *ctrl, bool freezer, bool first)
{
	char probe[PATH_MAX], file[PATH_MAX + 32];
	bool made;
	const char *fr, *mk;

	snprintf(probe, sizeof(probe), "%.4000s/cr-probe-%d", mnt, (int)getpid());
	made = !mkdir(probe, 0755);
	snprintf(file, sizeof(file), "%s/%s", probe, kind[1] == '2' ? "cgroup.freeze" : "freezer.state");
	fr = !freezer ? "-" : !made ? "unknown" : access(file, F_OK) ? "no" : "yes";
	mk = made ? "yes" : strerror(errno);
	out(1, cfg.json ? "%s{\"version\":\"%s\",\"path\":\"%s\",\"controllers\":\"%s\",\"freezer\":\"%s\",\"create\":\"%s\"}"
			: "%s  %s         %s (%s): freezer %s, create %s\n",
	    cfg.json ? first ? ",\"hierarchies\":[" : "," : "", kind, ins_str(mnt, strlen(mnt)), ins_str(ctrl, strlen(ctrl)), fr,
	    ins_str(mk, strlen(mk)));
	if (made)
		rmdir(probe);
}

/*
 * What CRIU itself said when a check step failed, as one line: the first
 * Error line of its stderr (captured while check runs), else of check.log
 * (the rlimit line every run here logs does not count).
 */
static void chk_criu_said(int dfd, char *why, size_t size)
{
	static char *buf_m;
	char *const buf = BIG(buf_m, 1 << 16), *e = NULL, *l;
	ssize_t n = pread(criu_stderr, buf, (1 << 16) - 1, 0);

	for (int pass = 0; pass < 2 && !e; pass++) {
		if (pass) {	/* the log's last 64 KiB: a debug log is longer, its errors last */
			int fd = openat(dfd, "check.log", O_RDONLY | O_CLOEXEC);
			off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;

			n = fd < 0 ? -1 : pread(fd, buf, (1 << 16) - 1, end > (1 << 16) - 1 ? end - (1 << 16) + 1 : 0);
			close_keep(fd);
			if (n < 0)
				break;
		}
		buf[n < 0 ? 0 : n] = '\0';
		for (ssize_t i = 0; i < n; i++)	/* CRIU 3.17 pads a line with NULs */
			buf[i] = buf[i] ? buf[i] : '\n';
		for (l = buf; (e = strstr(l, "Error (")) && strstr(e, HARMLESS_ERROR) &&
			      strstr(e, HARMLESS_ERROR) < e + strcspn(e, "\n"); l = e + 1)
			;
	}
	if (e) {
		size_t m = strlen(why);

		snprintf(why + m, size - m, "%sCRIU says: %.*s", m ? "; " : "", (int)strcspn(e, "\n"), e);
	}
}

/*
 * check: what works here and why not. The report goes to stdout, CRIU's
 * own stderr and cr's warnings are captured into it (each "no" says why in
 * one line, with the fix when the situation is a known one); the exit
 * status says whether checkpoint/restore can work.
 */
static int cmd_check(void)
{
	struct cg_layout l;
	struct utsname u;
	struct statfs sf;
	struct rpc r = { .sk = -1, .sigfd = -1, .status_fd = -1 };
	criu_req req;
	criu_resp resp = { 0 };
	criu_features f = { 0 };
	char criu[PATH_MAX], dir[PATH_MAX] = "", buf[256], path[PATH_MAX + 32], why[1024] = "", sub[96];
	const char *fix = NULL;
	bool ok = false, have_f = false, logged = false, root = !geteuid() || cfg.criu_socket[0];
	long long pipe_max = lazy_pipe_short();
	int dfd = -1;

	uname(&u);
	keep_warn = true;
	if ((criu_stderr = memfd_create("criu-stderr", MFD_CLOEXEC)) < 0)	/* kernels before 3.17 */
		criu_stderr = open("/dev/null", O_WRONLY | O_CLOEXEC);
	chk("cr", -1, CR_VERSION, NULL);
	snprintf(buf, sizeof(buf), cfg.json ? "%s" : "%s (cr built for %s)", u.machine, CR_ARCH);
	chk("arch", -1, buf, NULL);
	if (cfg.json)
		chk("built for", -1, CR_ARCH, NULL);
	chk("kernel", -1, u.release, NULL);
	snprintf(sub, sizeof(sub), "uid %d", (int)geteuid());
	chk("user", -1, geteuid() ? sub : "root", NULL);
	if (!cg_read_layout(&l)) {
		chk("cgroups", -1, cg_layout_name(&l), NULL);
		if (l.v2[0]) {
			snprintf(path, sizeof(path), "%s/cgroup.controllers", l.v2);
			if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
				buf[0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			cmd_check_hierarchy("v2", l.v2, buf[0] ? buf : "no controllers", true, true);
		}
		for (int i = 0; i < l.nv1; i++)
			cmd_check_hierarchy("v1", l.v1[i].path, l.v1[i].ctrl, in_list("freezer", l.v1[i].ctrl), !i && !l.v2[0]);
		if (cfg.json && (l.v2[0] || l.nv1))
			out(1, "]");
	}
	if (!statfs("/run", &sf))
		chk("/run tmpfs", sf.f_type == TMPFS_MAGIC_, sf.f_type == TMPFS_MAGIC_ ? NULL :
		    "CRIU probes the kernel on every run (tens of ms; only speed)",
		    sf.f_type == TMPFS_MAGIC_ ? NULL : "mount -t tmpfs tmpfs /run (CRIU then keeps its probe in /run/criu.kdat)");
	if (rpc_find_criu(criu, sizeof(criu))) {
		chk("criu", -1, "not found", NULL);
		snprintf(why, sizeof(why), "%s", warn_keep);
		goto out;
	}
	r.sigfd = sig_setup(false);
	r.deadline = now_ms() + (int64_t)(cfg.timeout ? cfg.timeout : 30) * 1000;
	if (rpc_open(&r, criu, false) || rpc_version(&r)) {
		chk("criu", -1, cfg.criu_socket[0] ? cfg.criu_socket : criu, NULL);
		goto criu_failed;
	}
	snprintf(sub, sizeof(sub), "%d.%d.%d", r.ver / 10000, r.ver / 100 % 100, r.ver % 100);
	snprintf(path, sizeof(path), cfg.json ? "%s" : "%s (%s%s)", cfg.criu_socket[0] ? cfg.criu_socket : criu, sub,
		 cfg.criu_socket[0] ? ", service" : "");
	chk("criu", -1, path, NULL);
	if (cfg.json)
		chk("criu version", -1, sub, NULL);
	if (rpc_features(&r, &f))
		goto criu_failed;
	have_f = true;
	snprintf(buf, sizeof(buf), "mem_track=%s lazy_pages=%s pidfd_store=%s", f.mem_track ? "yes" : "no",
		 f.lazy_pages ? "yes" : "no", f.pidfd_store ? "yes" : "no");
	chk("features", -1, buf, NULL);
	/* CHECK: CRIU up to 4.1 wants an images dir even here */
	if (!mkdtemp_(dir, sizeof(dir), "check") || (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		warn("create %s:", dir);
		snprintf(why, sizeof(why), "%s", warn_keep);
		goto out;
	}
	rpc_req_init(&req, criu_req_type_CHECK);
	req.has_opts = true;
	req.opts.images_dir_fd = dfd;
	req.opts.has_log_file = true;
	snprintf(req.opts.log_file, sizeof(req.opts.log_file), "check.log");
	req.opts.has_log_level = true;
	req.opts.log_level = (int32_t)cfg.log_level;
	if (!rpc_call(&r, &req, &resp) && resp.success) {
		ok = true;
		chk("criu check", 1, "ok", NULL);
		goto out;
	}
	snprintf(path, sizeof(path), "failed (log: %s/check.log)", dir);
	logged = !faccessat_(dfd, "check.log", F_OK);
	chk("criu check", 0, logged ? path : "failed (CRIU wrote no log)", NULL);
criu_failed:
	snprintf(why, sizeof(why), "%s", warn_keep[0] ? warn_keep : "CRIU's own check failed");
	chk_criu_said(dfd, why, sizeof(why));
	fix = known_fix(why);
out:
	if (!root) {
		ok = false;
		snprintf(why, sizeof(why), "cr runs as uid %d, not root", (int)geteuid());
		fix = "run cr as root: CRIU needs CAP_SYS_ADMIN, CAP_SYS_PTRACE and more (or a CRIU service, --criu-socket)";
	}
	chk("checkpoint", ok, ok ? NULL : why, fix);
	chk("restore", ok, ok ? NULL : why, fix);
	if (!have_f)
		chk("pre-dump", 2, "CRIU did not report its features", NULL);
	else if (!f.mem_track)
		chk("pre-dump", 0, "the kernel has no soft-dirty memory tracking (CONFIG_MEM_SOFT_DIRTY)",
		    "checkpoint without pre-dump (migrate --mode stop-copy or post-copy), or a kernel with "
		    "CONFIG_MEM_SOFT_DIRTY=y (x86, powerpc and s390 have it)");
	else
		chk("pre-dump", ok, ok ? NULL : why, fix);
	if (!have_f)
		chk("lazy pages", 2, "CRIU did not report its features", NULL);
	else if (!f.lazy_pages)
		chk("lazy pages", 0, "this kernel has no userfaultfd that CRIU can use (CONFIG_USERFAULTFD, Linux 4.11+)",
		    "post-copy cannot work here: migrate --mode stop-copy (or pre-copy), or a kernel with CONFIG_USERFAULTFD=y");
	else if (pipe_max) {
		snprintf(buf, sizeof(buf), "fs.pipe-max-size is %lld and cr lacks CAP_SYS_RESOURCE; CRIU's page server needs %u",
			 pipe_max, LAZY_PIPE_MIN);
		snprintf(sub, sizeof(sub), "sysctl -w fs.pipe-max-size=%u", LAZY_PIPE_MIN);
		chk("lazy pages", 0, buf, sub);
	} else
		chk("lazy pages", ok, ok ? NULL : why, fix);
	if (cfg.json)
		out(1, "}\n");
	keep_warn = false;
	if (!ok)	/* the report is on stdout; a failure says so on stderr too */
		warn("checkpoint and restore cannot work here: %s", why);
	if (dfd >= 0) {
		close(dfd);
		if (!logged)	/* kept only for the log it names */
			rm_rf_at(AT_FDCWD, dir);
	}
	rpc_close(&r);
	return ok ? EXIT_OK : EXIT_FAIL;
}

/* =============================== Migration =============================== */

/*
 * cr migrate / cr receive: a live tree moves between hosts over one byte
 * stream, the stdin/stdout of a --via command such as ssh, or a TCP
 * connection to --listen. Frames are two little-endian u32, type and
 * payload length, then the payload. HELLO and READY go straight over the
 * stream; after them each side runs a pump (mig_pump), a child process that
 * carries cr's own frames and CRIU's page-server traffic (PAGES frames) over
 * that one stream, so pre-copy and post-copy need no second connection:
 * CRIU reads and writes a socket cr owns (ps.fd, --ps-socket).
 *
 *   HELLO   S  "cr-migrate 2 criu=VER pid=PID pids=P,P,... token=TOKEN"
 *   READY   R  "criu=VER lazy=0|1": its checks passed
 *   PS      S  "dir=NAME parent=NAME|-": start a page server into NAME
 *   PSREADY R  it runs
 *   PSEND   S  the (pre-)dump is over: wait for the page server
 *   PSDONE  R  "status=N sum=H" (0: every page is written; H: the XXH3-128
 *              of the page stream as it arrived, which the source checks)
 *   FILE    S  NAME "\0" DATA: a chunk of an image file
 *   DONE    S  "files=N bytes=B sum=H lazy=0|1 opts=...": restore (H: the
 *              XXH3-128 of the FILE frames, which the target checks)
 *   RESULT  R  "pid=PID restore_ms=MS": restored, waiting at post-restore
 *   COMMIT  S  the source lets go: resume the tree
 *   RESUMED R  "pid=PID": it runs on the target
 *   END     R  "status=N sum=H": post-copy's last page arrived (0), or not
 *   ERROR   both  a message for the other side's user
 *   PAGES   both  page-server bytes, pump to pump
 *   BUSY    R  (--listen, before HELLO is read) too many connections wait
 *              for theirs: try again (mig_listen)
 *
 * Safety (docs/migration.md, "Safety"): the source's final dump waits in its
 * post-dump notification while the images go over and the target restores;
 * the target's restore waits in post-restore, its tree not yet running.
 * Any failure before COMMIT answers both with failure, so CRIU resumes the
 * source and kills the target's copy. After a stop-copy or pre-copy dump
 * CRIU leaves the source stopped (leave_stopped); it is killed only after
 * RESUMED. If the stream breaks after COMMIT was sent and before RESUMED,
 * nobody can know whether the target resumed: the source stays stopped and
 * cr says how to find out, so there are never two running copies and the
 * tree is never lost. Post-copy has no such way back: once the target runs,
 * its memory is on both hosts.
 */
enum {
	MIG_HELLO = 1, MIG_READY, MIG_PS, MIG_PSREADY, MIG_PSEND, MIG_PSDONE, MIG_FILE, MIG_DONE,
	MIG_RESULT, MIG_COMMIT, MIG_RESUMED, MIG_END, MIG_ERROR, MIG_PAGES, MIG_BUSY,
};
#define MIG_HELLO_MAX (MAX_CG_PIDS * 8 + 512)
#define MIG_MAX_FRAME (1u << 20)

static int mig_send(int fd, unsigned type, const void *a, size_t alen, const void *b, size_t blen)
{
	uint32_t h[2] = { htole32(type), htole32((uint32_t)(alen + blen)) };

	if (write_all(fd, h, sizeof(h)) || write_all(fd, a, alen) || write_all(fd, b, blen)) {
		warn("send to the other side:");
		return -1;
	}
	return 0;
}

static int mig_sendf(int fd, unsigned type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int mig_sendf(int fd, unsigned type, const char *fmt, ...)
{
	static char buf[65536];
	struct fmt_out o = { buf, sizeof(buf), 0 };
	va_list ap;

	va_start(ap, fmt);
	fmt_v(&o, fmt, ap);
	va_end(ap);
	return mig_send(fd, type, buf, strlen(buf), NULL, 0);
}

/*
 * Without --timeout, nothing in a migration waits forever, and nothing
 * that makes progress is cut short. CRIU's work (a dump, a restore) ends
 * when the stream has not moved for cfg.stall_s: --stall-timeout (a
 * minute), plus a second per 8 MiB of the tree (a restore from a slow disk
 * reads that fast at least). A wait on the peer, which may be doing that
 * work, gets --stall-timeout more.
 */
#define MIG_STALL_MIB_PER_S 8

static void mig_stall(unsigned long long mib)
{
	cfg.stall_s = (cfg.stall ? cfg.stall : 1) + (unsigned)(mib / MIG_STALL_MIB_PER_S);
}

static unsigned mig_wait_s(void)
{
	return cfg.timeout ? cfg.timeout : (cfg.stall_s ? cfg.stall_s : cfg.stall) + (cfg.stall ? cfg.stall : 1);
}

/*
 * Read one frame into buf (NUL-terminated; payloads longer than size-1 are
 * refused). Returns the type, 0 at a clean EOF, -1 on error. A peer that
 * sends nothing for --timeout seconds (default 300) is given up on, and so
 * is everything at SIGINT, SIGTERM or SIGHUP, or when the process watch
 * (the target's page server, if not 0) has ended meanwhile.
 */
static int mig_recv_watch(int fd, char *buf, size_t size, uint32_t *len, pid_t watch)
{
	uint32_t h[2];
	size_t got = 0, want = sizeof(h);
	char *p = (char *)h;
	int64_t idle = now_ms() + (int64_t)mig_wait_s() * 1000;
	unsigned long long seen = cfg.moved ? *cfg.moved : 0;

	for (int part = 0; part < 2; part++) {
		while (got < want) {
			struct pollfd pfd[2] = { { fd, POLLIN, 0 }, { cfg.sigfd, POLLIN, 0 } };
			struct signalfd_siginfo si;
			ssize_t n;

			n = poll(pfd, cfg.sigfd > 0 ? 2 : 1, 1000);
			if (n == 0 && watch && !proc_alive(watch) && !got && !part)
				return -3;	/* the process watched ended */
			if (n == 0 && cfg.moved && *cfg.moved != seen)	/* pages flow: not idle */
				seen = *cfg.moved, idle = now_ms() + (int64_t)mig_wait_s() * 1000;
			if (n == 0 && now_ms() >= idle) {
				warn("the other side sent nothing for %u s%s%s", mig_wait_s(), cfg.phase ? " during " : "",
				     cfg.phase ? cfg.phase : "");
				return -1;
			}
			if (n > 0 && (pfd[1].revents & POLLIN) && read(cfg.sigfd, &si, sizeof(si)) == sizeof(si) &&
			    si.ssi_signo != SIGCHLD) {
				warn("got %s: giving up", sig_name((int)si.ssi_signo));
				return -1;
			}
			if (n < 0 || !(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(fd, p + got, want - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (!n && !part && !got)
					return 0;
				warn("the connection to the other side broke%s", n ? ":" : "");
				return -1;
			}
			got += (size_t)n;
		}
		h[0] = le32toh(h[0]), h[1] = le32toh(h[1]);
		if (!part && (h[1] >= size || !h[0] || h[0] > MIG_BUSY)) {
			warn("the other side sent a bad frame (type %u, %u bytes)", h[0], h[1]);
			return -1;
		}
		p = buf, got = 0, want = h[1];
	}
	buf[h[1]] = '\0';
	*len = h[1];
	if (h[0] == MIG_ERROR)
		warn("the other side: %s", buf);
	return (int)h[0];
}

static int mig_recv(int fd, char *buf, size_t size, uint32_t *len)
{
	return mig_recv_watch(fd, buf, size, len, 0);
}

/* mig_recv for the one frame type that must come next; any other is an
 * error (an ERROR frame was shown by mig_recv). */
static int mig_expect(int fd, int type, char *buf, size_t size)
{
	uint32_t len;
	int t = mig_recv(fd, buf, size, &len);

	if (t == type)
		return 0;
	if (t > 0 && t != MIG_ERROR)
		warn("the other side sent frame %d where %d belongs", t, type);
	return t == MIG_ERROR ? -2 : -1;
}

/* The value of "key=" in a space-separated frame, or "". */
static const char *mig_field(const char *buf, const char *key, char *out, size_t size)
{
	size_t n = strlen(key);

	out[0] = '\0';
	for (const char *p = buf; (p = strstr(p, key)); p += n)
		if ((p == buf || p[-1] == ' ') && p[n] == '=') {
			snprintf(out, size, "%.*s", (int)strcspn(p + n + 1, " "), p + n + 1);
			break;
		}
	return out;
}

static long long mig_num(const char *buf, const char *key)
{
	char v[32];

	return (long long)scan_num(mig_field(buf, key, v, sizeof(v)), 10);
}

/* One whole frame from the non-blocking ctl socket into buf (8-byte header
 * first). Returns its type, or -1 at EOF or on a bad frame. cr writes its
 * frames in one go, so waiting here for the rest never stalls the pump. */
static int pump_get(int fd, uint8_t *buf, size_t size, size_t *len)
{
	size_t got = 0, want = 8;

	while (got < want) {
		ssize_t n = read(fd, buf + got, want - got);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, -1);
			continue;
		}
		if (n <= 0)
			return -1;
		got += (size_t)n;
		if (got == 8 && want == 8) {
			uint32_t l;

			memcpy(&l, buf + 4, 4);
			if (le32toh(l) > size - 8)
				return -1;
			want += le32toh(l);
		}
	}
	*len = got;
	return (int)le32toh(*(uint32_t *)buf);
}

/*
 * The post-copy guard, in the source's pump. A lazy dump's page server
 * (CRIU's page-xfer.c, page_server_serve) takes a clean end, the target's
 * PS_IOV_FORCE_CLOSE or even a bare EOF between two requests, as success:
 * CRIU then ends the source tree. But criu lazy-pages sends that close
 * whenever it stops, also when the target's restore failed (uffd.c:
 * handle_requests fails, disconnect_from_page_server still runs), and a cut
 * stream is an EOF. Either would lose the tree on both hosts. So the pump
 * passes the target's requests (each a struct page_server_iov, PSZ bytes)
 * to CRIU only whole, holds back a close until cr releases it (the target
 * said RESUMED: its tree runs), and until the target's close has gone to
 * CRIU, ends the page server the way cr decides:
 *   ABORT   a request cut short, then EOF: the page server fails, and
 *           CRIU resumes the source tree (cr_dump_finish: TASK_ALIVE);
 *   FINISH  a close of the pump's own: the page server succeeds, and the
 *           tree is left stopped (the lazy dump has leave_stopped) for cr.
 * When the stream or cr goes away first, the pump decides alone: ABORT
 * before COMMIT (the target's tree never ran), FINISH after (it may run).
 * After a verdict whatever CRIU still sends is read and dropped, so CRIU
 * never blocks on a write on its way to the verdict.
 */
enum { PUMP_GUARD = 0x100, PUMP_COMMIT, PUMP_RELEASE, PUMP_ABORT, PUMP_FINISH };

/*
 * Shared with the pump: its count of the bytes moved, and the XXH3-128 of
 * the page stream each way (out: what CRIU here sent to the peer; in: what
 * the peer's pages brought to CRIU here). The target says its `in` at
 * PSDONE and END; the source compares it with its `out`: pages that changed
 * on the way fail the migration before the target's tree runs.
 */
static struct pump_share {
	unsigned long long moved;
	XXH3_state_t out, in;
} *pump_sh;

static void xxh_hex(const XXH3_state_t *st, char hex[33])
{
	XXH128_hash_t h = XXH3_128bits_digest(st);

	snprintf(hex, 33, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
}

/* The target's sum (in frame) against the source's: 0 when they agree or
 * the peer sent none (an older cr), -1 after saying so. */
static int mig_sum_check(const char *frame, const char *what)
{
	char here[33], there[40];

	if (!mig_field(frame, "sum", there, sizeof(there))[0])
		return 0;
	xxh_hex(&pump_sh->out, here);
	if (str_eq(here, there))
		return 0;
	warn("%s changed on the way to the target (XXH3-128 of everything sent: %s here, %s there)", what, here, there);
	return -1;
}
#define PS_IOV_CLOSE 0x1023
#define PS_IOV_FORCE_CLOSE 0x1024

static struct {
	unsigned psz;		/* sizeof(struct page_server_iov) of this CRIU; 0: no guard */
	unsigned plen;		/* bytes of the request being put together */
	uint8_t part[32], held[32];
	bool has_held, committed, released, ended, shut;
	bool passed;		/* the target's own close went to CRIU: the guard is done */
	uint8_t *out;		/* for pg: whole requests (big()->pg_out) */
	size_t off, len;
} pg_g;

static void guard_put(const void *b, size_t n)
{
	memcpy(pg_g.out + pg_g.len, b, n);
	pg_g.len += n;
}

/* Stream bytes for CRIU's page server: whole requests out, a close held. */
static void guard_feed(const uint8_t *b, size_t n)
{
	while (n) {
		size_t k = pg_g.psz - pg_g.plen < n ? pg_g.psz - pg_g.plen : n;
		uint32_t cmd;

		memcpy(pg_g.part + pg_g.plen, b, k);
		pg_g.plen += (unsigned)k, b += k, n -= k;
		if (pg_g.plen < pg_g.psz)
			break;
		pg_g.plen = 0;
		memcpy(&cmd, pg_g.part, 4);
		cmd &= 0xffff;
		if (pg_g.ended || pg_g.passed)
			continue;
		if ((cmd == PS_IOV_CLOSE || cmd == PS_IOV_FORCE_CLOSE) && !pg_g.released)
			memcpy(pg_g.held, pg_g.part, pg_g.psz), pg_g.has_held = true;
		else
			guard_put(pg_g.part, pg_g.psz), pg_g.passed |= cmd == PS_IOV_CLOSE || cmd == PS_IOV_FORCE_CLOSE;
	}
}

static void guard_verdict(int v)
{
	if (v == PUMP_COMMIT)
		pg_g.committed = true;
	if (pg_g.passed || pg_g.ended || v == PUMP_COMMIT)
		return;
	if (v == PUMP_RELEASE) {
		pg_g.released = true;
		if (pg_g.has_held)
			guard_put(pg_g.held, pg_g.psz), pg_g.passed = true;
		return;
	}
	pg_g.ended = true;
	pg_g.plen = 0;
	if (v == PUMP_ABORT) {
		guard_put("", 1);	/* a request cut short... */
		pg_g.shut = true;		/* ...and then EOF */
	} else {
		memset(pg_g.held, 0, sizeof(pg_g.held));
		memcpy(pg_g.held, &(uint32_t){ PS_IOV_FORCE_CLOSE }, 4);
		guard_put(pg_g.held, pg_g.psz);
	}
}

/*
 * The pump, in a child process: the stream (cin/cout) on one side; on the
 * other cr's frames (ctl) and the page-server bytes CRIU reads and writes
 * (pg), which travel as PAGES frames. Every fd is non-blocking and each
 * direction has one buffer, so a stalled reader only ever stalls its own
 * direction. Frames from the stream go to ctl or pg in order; the protocol
 * is lock-step, so a frame for cr is never stuck behind pages nobody reads.
 * It ends when the stream ends (after handing cr what arrived) or when cr
 * closes ctl (after sending what cr sent); with the post-copy guard on and
 * no release, only once CRIU and cr have both let go of pg.
 */
static void mig_pump(int cin, int cout, int ctl, int pg, int gc, unsigned long long *moved)
{
	static uint8_t *in_m, *out_m;
	uint8_t *const in = BIG(in_m, MIG_MAX_FRAME + 8), *const out = BIG(out_m, MIG_MAX_FRAME + 8);
	size_t inlen = 0, ioff = 0, outlen = 0, outoff = 0, doff = 0, dlen = 0;
	bool in_eof = false, ctl_eof = false, pg_eof = false, told = false;
	int dfd = -1;

	pg_g.out = big_map(MIG_MAX_FRAME + 64);
	for (int fd = 0; fd < 5; fd++)
		fcntl((int[]){ cin, cout, ctl, pg, gc }[fd], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p[5] = { { cin, 0, 0 }, { cout, 0, 0 }, { ctl, 0, 0 }, { pg, 0, 0 }, { gc, POLLIN, 0 } };
		bool guarding = pg_g.psz && !pg_g.passed;
		uint32_t h[2] = { 0, 0 };
		ssize_t n;

		/* a whole frame in `in`, and nothing being handed over: route
		 * it (pages for a guarded page server through the guard) */
		if (dfd < 0 && inlen - ioff >= 8) {
			memcpy(h, in + ioff, 8);
			if (le32toh(h[1]) > MIG_MAX_FRAME)
				_exit(1);	/* garbage: cr sees the stream end */
			if (inlen - ioff >= 8 + le32toh(h[1])) {
				bool pages = le32toh(h[0]) == MIG_PAGES;

				if (pages)
					XXH3_128bits_update(&pump_sh->in, in + ioff + 8, le32toh(h[1]));
				if (pages && pg_g.psz && pg_g.off == pg_g.len) {
					pg_g.off = pg_g.len = 0;
					guard_feed(in + ioff + 8, le32toh(h[1]));
					ioff += 8 + le32toh(h[1]);
					continue;
				}
				if (!pages || !pg_g.psz) {
					dfd = pages ? pg : ctl;
					doff = ioff + (pages ? 8 : 0);
					dlen = ioff + 8 + le32toh(h[1]);
				}
			}
		}
		if (dfd < 0 && in_eof && !told && !(inlen - ioff >= 8 && inlen - ioff >= 8 + le32toh(h[1]))) {
			if (!guarding)
				_exit(0);
			/* the stream is gone: the guard decides, cr is told */
			guard_verdict(pg_g.committed ? PUMP_FINISH : PUMP_ABORT);
			shutdown(ctl, SHUT_WR);
			told = true;
		}
		if (ctl_eof && outoff == outlen && !guarding)
			_exit(0);
		if (ctl_eof && guarding && !pg_g.ended)
			guard_verdict(pg_g.committed ? PUMP_FINISH : PUMP_ABORT);
		if (pg_eof && (pg_g.ended || ctl_eof))
			_exit(0);
		if (pg_g.shut && pg_g.off == pg_g.len)
			shutdown(pg, SHUT_WR), pg_g.shut = false;
		if (dfd < 0 && !in_eof)
			p[0].events = POLLIN;
		if (outoff < outlen)
			p[1].events = POLLOUT;
		else if (!ctl_eof)
			p[2].events = POLLIN;
		if (!pg_eof && (outoff == outlen || pg_g.ended))
			p[3].events = POLLIN;
		if (dfd >= 0)
			p[dfd == ctl ? 2 : 3].events |= POLLOUT;
		if (pg_g.off < pg_g.len)
			p[3].events |= POLLOUT;
		if (poll(p, 5, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (p[0].revents && (ioff || inlen < (MIG_MAX_FRAME + 8))) {
			if (ioff)	/* compact, once per read */
				memmove(in, in + ioff, inlen - ioff), inlen -= ioff, dlen -= dfd >= 0 ? ioff : 0,
					doff -= dfd >= 0 ? ioff : 0, ioff = 0;
			n = read(cin, in + inlen, (MIG_MAX_FRAME + 8) - inlen);
			if (n > 0)
				inlen += (size_t)n, *moved += (unsigned long long)n;
			else if (!n || (errno != EAGAIN && errno != EINTR))
				in_eof = true;
		}
		if (dfd >= 0 && (p[dfd == ctl ? 2 : 3].revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = write(dfd, in + doff, dlen - doff);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				if (!pg_g.psz)
					_exit(1);
				n = (ssize_t)(dlen - doff);	/* cr is gone: drop it */
				ctl_eof = true;
			}
			if (n > 0 && (doff += (size_t)n) == dlen)
				ioff = dlen, dfd = -1;
		}
		if (pg_g.off < pg_g.len && (p[3].revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = write(pg, pg_g.out + pg_g.off, pg_g.len - pg_g.off);
			if (n > 0)
				pg_g.off += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				pg_g.off = pg_g.len;	/* CRIU is gone */
		}
		if (p[4].revents) {	/* the guard's control: never stuck behind the stream */
			uint8_t b[64];
			size_t bl;
			int t = pump_get(gc, b, sizeof(b) - 1, &bl);

			if (t < 0)
				gc = -1, ctl_eof = true;	/* cr is gone */
			else if (t == PUMP_GUARD)
				b[bl] = '\0', pg_g.psz = scan_num((char *)b + 8, 10) <= sizeof(pg_g.part) ?
								 (unsigned)scan_num((char *)b + 8, 10) : 0;
			else
				guard_verdict(t);
		}
		if (outoff == outlen && (p[2].revents & (POLLIN | POLLHUP))) {
			outoff = 0;
			if (pump_get(ctl, out, (MIG_MAX_FRAME + 8), &outlen) < 0)
				ctl_eof = true, outlen = 0;
		} else if ((outoff == outlen || pg_g.ended) && (p[3].revents & (POLLIN | POLLHUP))) {
			static uint8_t drop[65536];

			n = read(pg, pg_g.ended ? drop : out + 8, pg_g.ended ? sizeof(drop) : MIG_MAX_FRAME);
			if (n > 0 && !pg_g.ended) {
				XXH3_128bits_update(&pump_sh->out, out + 8, (size_t)n);
				memcpy(out, (uint32_t[]){ htole32(MIG_PAGES), htole32((uint32_t)n) }, 8);
				outoff = 0, outlen = 8 + (size_t)n;
			} else if (!n || (n < 0 && errno != EAGAIN && errno != EINTR))
				pg_eof = true;
		}
		if (outoff < outlen && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = write(cout, out + outoff, outlen - outoff);
			if (n > 0)
				outoff += (size_t)n, *moved += (unsigned long long)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				if (!guarding)
					_exit(1);
				in_eof = true, outoff = outlen;	/* the stream is gone */
			}
		}
	}
}

/* Start the pump on the stream. Returns cr's end of ctl, the fd CRIU gets
 * for its page server in *pg (kept open across every (pre-)dump or page
 * server: each CRIU speaks its whole session on it in turn), cr's end of
 * the guard's control in *gc, and in *moved the pump's count of the bytes
 * the stream carried (shared memory). */
static int mig_pump_start(int cin, int cout, int *pg, int *gc, pid_t *pump, unsigned long long **moved)
{
	int c[2], s[2], k[2];

	pump_sh = mmap(NULL, sizeof(*pump_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	*moved = pump_sh != MAP_FAILED ? &pump_sh->moved : NULL;
	if (pump_sh != MAP_FAILED)
		XXH3_128bits_reset(&pump_sh->out), XXH3_128bits_reset(&pump_sh->in);
	if (pump_sh == MAP_FAILED || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, k) || (*pump = _Fork()) < 0) {
		warn("start the stream's pump:");
		return -1;
	}
	/* the pages' way: buffers of a few MiB make for fewer, larger reads
	 * and writes on both sides of the page-server socket */
	for (int i = 0; i < 2; i++)
		for (int o = 0; o < 2; o++)
			setsockopt(s[i], SOL_SOCKET, o ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, &(int){ 4 << 20 }, sizeof(int));
	if (*pump == 0) {
		close(c[0]), close(s[0]), close(k[0]);
		mig_pump(cin, cout, c[1], s[1], k[1], *moved);
	}
	close(c[1]), close(s[1]), close(k[1]);
	*gc = k[0];
	/* the pump owns the stream now: its exit is the peer's EOF */
	if (cin > 2)
		close(cin);
	if (cout > 2 && cout != cin)
		close(cout);
	if (cin <= 2 || cout <= 2) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		dup2(null, 0), dup2(null, 1);
		close_keep(null);
	}
	/* a stream that stalls (a cut network) must not block cr forever: a
	 * write to the pump gives up after --timeout (default 300 s) */
	setsockopt(c[0], SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ mig_wait_s(), 0 },
		   sizeof(struct timeval));
	*pg = s[0];
	return c[0];
}

/* The token from --token-file: trimmed, non-empty, and, run as root, in a
 * file only root can read or write (checked on the fd that is read). */
static void mig_token(char *tok, size_t size)
{
	struct stat st;
	ssize_t n = 0;
	int fd;

	tok[0] = '\0';
	if (!cfg.token_file[0])
		return;
	if ((fd = open(cfg.token_file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 || fstat(fd, &st) ||
	    (n = read(fd, tok, size - 1)) < 0)
		die("--token-file %s:", cfg.token_file);
	close(fd);
	tok[n] = '\0';
	if (geteuid() == 0 && (st.st_uid != 0 || (st.st_mode & 077)))
		usage_die("--token-file %s: %s; chown root and chmod 600 it", cfg.token_file,
			  st.st_uid ? "owned by another user" : "readable or writable by others");
	while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r'))
		tok[--n] = '\0';
	if (!n || strpbrk(tok, " \n") || (size_t)n >= size - 2)
		usage_die("--token-file %s: expected one line without blanks, at most %zu bytes", cfg.token_file, size - 3);
}

/* Compare tokens in time that depends only on the length of a. */
static bool mig_token_ok(const char *a, const char *b)
{
	size_t n = strlen(a), nb = strlen(b);
	unsigned char d = n != nb;

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i < nb ? i : 0]);
	return !d;
}

/* A numeric IPv4 (a.b.c.d) or IPv6 address (eight hex groups, or fewer
 * around one "::"; no embedded IPv4) into a, in network order. Returns
 * AF_INET or AF_INET6, 0 for anything else. (musl's inet_pton: 0.8 KB.) */
static int ip_parse(const char *s, uint8_t *a)
{
	unsigned g[8];
	int n = 0, gap = -1;

	if (!strchr(s, ':')) {
		for (int i = 0; i < 4; i++, s++) {
			size_t len = strspn(s, "0123456789");

			if (!len || len > 3 || scan_num(s, 10) > 255 || s[len] != (i < 3 ? '.' : '\0'))
				return 0;
			a[i] = (uint8_t)scan_num(s, 10);
			s += len;
		}
		return AF_INET;
	}
	if (s[0] == ':' && s[1] == ':')
		gap = 0, s += 2;
	while (*s) {
		size_t len = strspn(s, "0123456789abcdefABCDEF");

		if (n == 8 || !len || len > 4)
			return 0;
		g[n++] = (unsigned)scan_num(s, 16);
		s += len;
		if (*s && *s++ != ':')
			return 0;
		if (*s == ':' && s[-1] == ':') {
			if (gap >= 0)
				return 0;
			gap = n, s++;
		} else if (!*s && s[-1] == ':')
			return 0;
	}
	if (gap < 0 ? n != 8 : n == 8)
		return 0;
	memset(a, 0, 16);
	for (int i = 0; i < n; i++) {
		int pos = gap >= 0 && i >= gap ? i + 8 - n : i;

		a[2 * pos] = (uint8_t)(g[i] >> 8), a[2 * pos + 1] = (uint8_t)g[i];
	}
	return AF_INET6;
}

/* A TCP socket to (connect) or on (bind, listen, accept one) a numeric
 * ADDR:PORT. */
static int mig_tcp(const char *hostport, bool server)
{
	char host[64];
	int port, fd, one = 1;
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} a = { 0 };
	socklen_t len = sizeof(a.in4);

	parse_hostport(hostport, host, &port);
	uint8_t ip[16];

	if (ip_parse(host, ip) == AF_INET) {
		a.in4.sin_family = AF_INET;
		memcpy(&a.in4.sin_addr, ip, 4);
		a.in4.sin_port = htons((uint16_t)port);
	} else {	/* AF_INET6: cfg_set let nothing else through */
		memcpy(&a.in6.sin6_addr, ip, 16);
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons((uint16_t)port);
		len = sizeof(a.in6);
	}
	fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && server) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, &a.sa, len) || listen(fd, 64)) {
			warn("listen on %s:", hostport);
			close(fd);
			return -1;
		}
		info("listening on %s", hostport);
		return fd;
	}
	if (fd >= 0 && connect(fd, &a.sa, len)) {
		close_keep(fd);
		fd = -1;
	}
	if (fd < 0)
		warn("%s %s:", server ? "listen on" : "connect to", hostport);
	return fd;
}

/*
 * The first bytes a --listen connection sent (have of them, the frame
 * header first): 0 while HELLO is incomplete, 1 for a whole HELLO of
 * protocol 2 with the token tok, -1 for anything else and -2 for a wrong
 * token, why saying what (nothing of it goes to the peer).
 */
static int mig_hello_check(const char *buf, size_t have, const char *tok, char *why, size_t size)
{
	static char p[MIG_HELLO_MAX + 1];
	char got[256];
	uint32_t h[2];

	if (have < 8)
		return 0;
	memcpy(h, buf, 8);
	h[0] = le32toh(h[0]), h[1] = le32toh(h[1]);
	if (h[0] != MIG_HELLO || h[1] > MIG_HELLO_MAX) {
		snprintf(why, size, h[0] != MIG_HELLO ? "sent a frame of type %u, not a HELLO" :
			 "sent a frame of %u bytes, more than a HELLO's %u", h[0] != MIG_HELLO ? h[0] : h[1], MIG_HELLO_MAX);
		return -1;
	}
	if (have < 8 + h[1])
		return 0;
	memcpy(p, buf + 8, h[1]);
	p[h[1]] = '\0';
	if (strncmp(p, "cr-migrate 2 ", 13)) {
		snprintf(why, size, "does not speak cr-migrate 2 (another program, or another version of cr)");
		return -1;
	}
	if (!mig_token_ok(tok, mig_field(p, "token", got, sizeof(got)))) {
		snprintf(why, size, "did not present the token of --token-file");
		return -2;
	}
	return 1;
}

/*
 * receive --listen: accept connections until one presents a HELLO with the
 * token (as sshd: a grace time each, a cap on those waiting, failed tokens
 * slowed down per address), each bad peer named on stderr in one line.
 * One over the cap is told BUSY (a cr sender tries again) and drained for
 * a second before it is closed: closing on bytes it sent unread would
 * reset the connection, and the reset can overtake BUSY. Each slot keeps
 * its own buffer. Returns the sender's connection, its HELLO's payload in
 * hello, or -1 on --timeout, a signal, or with --exit-on-bad-peer the
 * first bad peer.
 */
#define MIG_WAITING 64
struct mig_bad {	/* an address that failed the token, and until when it waits */
	uint8_t ip[16];
	unsigned fails;
	int64_t until;
};

static int64_t mig_held(const struct mig_bad *bad, const uint8_t *ip, int64_t now)
{
	for (unsigned k = 0; k < 16; k++)
		if (!memcmp(bad[k].ip, ip, 16) && bad[k].until > now)
			return bad[k].until;
	return 0;
}

static int mig_listen(const char *tok, char *hello)
{
	static struct peer {
		int fd;
		bool busy;	/* told BUSY: drained, then closed */
		size_t have;
		int64_t end, cap;	/* the grace time's end, and its latest */
		uint8_t ip[16];
		char addr[64], *buf;
	} *pv_m;
	static struct mig_bad bad[16];
	struct peer *const pv = BIG(pv_m, sizeof(struct peer) * MIG_WAITING);
	static char *bufs_m;
	char *const bufs = BIG(bufs_m, (size_t)MIG_WAITING * (MIG_HELLO_MAX + 8)), why[160];
	struct pollfd pfd[MIG_WAITING + 2];
	unsigned max = cfg.max_unauth ? cfg.max_unauth : 1, grace = cfg.grace ? cfg.grace : 1, n = 0, waiting = 0;
	int64_t stop = cfg.timeout ? now_ms() + (int64_t)cfg.timeout * 1000 : INT64_MAX;
	int lfd = mig_tcp(cfg.listen, true), got = -1;

	for (unsigned i = 0; i < MIG_WAITING; i++)
		pv[i].buf = bufs + (size_t)i * (MIG_HELLO_MAX + 8);
	while (lfd >= 0 && got < 0) {
		int64_t now = now_ms(), wake = now + 1000, hold[MIG_WAITING];
		struct signalfd_siginfo si;
		unsigned np = 2;

		pfd[0] = (struct pollfd){ lfd, POLLIN, 0 };
		pfd[1] = (struct pollfd){ cfg.sigfd > 0 ? cfg.sigfd : -1, POLLIN, 0 };
		for (unsigned i = 0; i < n; i++) {	/* held (slowed down) or read */
			int64_t after = (hold[i] = pv[i].busy ? 0 : mig_held(bad, pv[i].ip, now)) + (int64_t)grace * 1000;

			if (hold[i] && after > pv[i].end)	/* unread while held */
				pv[i].end = after < pv[i].cap ? after : pv[i].cap;
			wake = pv[i].end < wake ? pv[i].end : hold[i] && hold[i] < wake ? hold[i] : wake;
			pfd[np++] = (struct pollfd){ hold[i] ? -1 : pv[i].fd, POLLIN, 0 };
		}
		if (now >= stop) {
			warn("no sender presented the token within --timeout (%u s)", cfg.timeout);
			break;
		}
		poll(pfd, np, (int)(wake - now > 0 ? wake - now : 0));
		now = now_ms();
		if ((pfd[1].revents & POLLIN) && read(cfg.sigfd, &si, sizeof(si)) > 0) {
			warn("interrupted by %s while waiting for a sender on %s", sig_name((int)si.ssi_signo), cfg.listen);
			break;
		}
		for (unsigned i = n; i-- > 0;) {
			struct peer *p = &pv[i], t;
			ssize_t r = 0;
			int v = 0;

			if (pfd[2 + i].revents && (p->busy || !mig_held(bad, p->ip, now))) {
				uint32_t len = p->have >= 8 ? le32toh(((uint32_t *)p->buf)[1]) : 0;
				size_t want = p->busy ? MIG_HELLO_MAX : p->have < 8 ? 8 - p->have :
					      8 + (len < MIG_HELLO_MAX ? len : MIG_HELLO_MAX) - p->have;

				r = read(p->fd, p->buf + (p->busy ? 0 : p->have), want);
				p->have += r > 0 && !p->busy ? (size_t)r : 0;
				v = p->busy ? (r > 0 || (r < 0 && errno == EAGAIN) ? 0 : -3) :
				    r > 0 ? mig_hello_check(p->buf, p->have, tok, why, sizeof(why)) : r < 0 && errno == EAGAIN ? 0 : -1;
				if (!r || (r < 0 && errno != EAGAIN))
					snprintf(why, sizeof(why), "closed before its HELLO was complete (%zu bytes came)", p->have);
			} else if (now >= p->end) {
				v = p->busy ? -3 : -1;
				snprintf(why, sizeof(why), "no complete HELLO within the grace time (%u s; %zu bytes came)", grace, p->have);
			}
			if (v == 1) {
				got = p->fd;
				memcpy(hello, p->buf + 8, p->have - 8);
				hello[p->have - 8] = '\0';
			} else if (v < 0) {
				unsigned k = 0;

				for (unsigned j = 0; v == -2 && j < 16; j++)	/* its address, or the oldest */
					k = !memcmp(bad[j].ip, p->ip, 16) ? j : bad[j].until < bad[k].until && memcmp(bad[k].ip, p->ip, 16) ? j : k;
				if (v == -2) {
					bad[k].fails = memcmp(bad[k].ip, p->ip, 16) ? 1 : bad[k].fails + 1;
					memcpy(bad[k].ip, p->ip, 16);
					bad[k].until = now + (bad[k].fails > 3 ? 8000 : 1000 << (bad[k].fails - 1));
				}
				if (v > -3)	/* (BUSY ones were named when told) */
					warn("peer %s: %s%s", p->addr, why, v == -2 ? "; the next from its address waits" : "");
				close(p->fd);
				waiting -= !p->busy;
				t = *p, *p = pv[--n], pv[n] = t;	/* the slot keeps its buffer */
				if (cfg.exit_bad_peer)
					break;
			}
		}
		if (got >= 0 || (cfg.exit_bad_peer && n < np - 2))
			break;
		if (pfd[0].revents & POLLIN) {
			union { struct sockaddr sa; struct sockaddr_in in4; struct sockaddr_in6 in6; } a = { 0 };
			socklen_t alen = sizeof(a);
			int c = accept4(lfd, &a.sa, &alen, SOCK_CLOEXEC | SOCK_NONBLOCK);
			struct peer *p = &pv[n];

			if (c < 0) {
				usleep(100000);	/* EMFILE: the connection stays queued */
				continue;
			}
			if (n == MIG_WAITING) {	/* busy ones being drained fill every slot */
				close(c);
				continue;
			}
			memset(p->ip, 0, 16);
			memcpy(p->ip, a.sa.sa_family == AF_INET ? (void *)&a.in4.sin_addr : (void *)&a.in6.sin6_addr,
			       a.sa.sa_family == AF_INET ? 4 : 16);
			ins_addr(p->addr, sizeof(p->addr), (uint32_t *)p->ip, a.sa.sa_family == AF_INET ? 1 : 4,
				 ntohs(a.in4.sin_port));
			/* the grace time counts from when its address may be read
			 * (a wait there extends it), but no wait makes it longer
			 * than grace + 8 s: nothing holds a slot for longer */
			p->fd = c, p->have = 0, p->busy = waiting >= max;
			p->end = p->busy ? now + 1000 : now + (int64_t)grace * 1000;
			p->cap = p->end + 8000;
			n++;
			if (!p->busy) {
				waiting++;
				continue;
			}
			/* BUSY tells a sender to come back; no more */
			(void)!write(c, (uint32_t[]){ htole32(MIG_BUSY), 0 }, 8);
			shutdown(c, SHUT_WR);
			warn("peer %s: over --max-unauthenticated (%u connections wait for their HELLO): told busy", p->addr, waiting);
			if (cfg.exit_bad_peer)
				break;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (pv[i].fd != got) {
			if (got >= 0 && !pv[i].busy)
				warn("peer %s: dropped: a sender presented the token", pv[i].addr);
			close(pv[i].fd);
		}
	}
	close_keep(lfd);
	if (got >= 0)
		fcntl(got, F_SETFL, 0);
	return got;
}

/* --via: run CMD, split on blanks (no shell: hooks are the only strings cr
 * gives a shell), with one end of a socketpair as its stdin and stdout. */
static int mig_via(pid_t *child)
{
	static char buf[MAX_VALUE + 1];
	char *argv[64], *save = NULL, bin[PATH_MAX], tried[1024];
	int sv[2], n = 0;

	snprintf(buf, sizeof(buf), "%s", cfg.via);
	for (char *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n == 63)
			usage_die("--via: more than 63 words");
		argv[n++] = w;
	}
	argv[n] = NULL;
	if (!n || path_search(argv[0], bin, sizeof(bin), tried, sizeof(tried))) {
		warn("--via: %s is not an executable (nor on $PATH)", n ? argv[0] : "\"\"");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		warn("--via %s: cannot start it", cfg.via);
		return -1;
	}
	for (int i = 0; i < 4; i++)	/* as the page-server socket (mig_pump_start) */
		setsockopt(sv[i / 2], SOL_SOCKET, i % 2 ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, &(int){ 4 << 20 }, sizeof(int));
	*child = _Fork();
	if (*child == 0) {
		child_prepare(true, false);
		umask(cfg.umask0);
		dup2(sv[1], 0);
		dup2(sv[1], 1);
		execv(bin, argv);
		_exit(127);
	}
	close(sv[1]);
	return sv[0];
}

/* Send one file of an image directory (symlinks, i.e. the parent link of a
 * chain, and CRIU's own log and stats stay here). */
struct mig_files {
	int ctl;
	unsigned n;
	unsigned long long bytes;
	XXH3_state_t sum;	/* of every FILE frame's payload, sent in DONE */
};

static int mig_send_file(int dirfd, const char *name, void *arg)
{
	static char *chunk_m;
	char *const chunk = BIG(chunk_m, 256 << 10);
	struct mig_files *m = arg;
	int fd;
	ssize_t n;
	bool first = true;

	if (strstr(name, ".log") || !strncmp(name, "stats-", 6))
		return 0;
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return errno == ELOOP ? 0 : -1;
	while ((n = read(fd, chunk, (256 << 10))) > 0 || first) {
		first = false;
		XXH3_128bits_update(&m->sum, name, strlen(name) + 1);
		XXH3_128bits_update(&m->sum, chunk, n > 0 ? (size_t)n : 0);
		if (n < 0 || mig_send(m->ctl, MIG_FILE, name, strlen(name) + 1, chunk, n > 0 ? (size_t)n : 0)) {
			close(fd);
			return -1;
		}
		m->bytes += (unsigned long long)(n > 0 ? n : 0);
		if (!n)
			break;
	}
	close(fd);
	m->n++;
	return n < 0 ? -1 : 0;
}

/* What migrate and receive keep between the steps and their holds. */
struct mig {
	int ctl;		/* frames, through the pump */
	int gc;			/* the pump's guard control (PUMP_*) */
	bool lazy;		/* post-copy */
	bool remote;		/* the final dump's pages go to a page server on the target */
	bool committed;		/* COMMIT sent (source) or received (target) */
	pid_t pid;		/* the restored tree's root on the target */
	long long restore_ms;
	int64_t t_restore, t_commit, t_freeze;
	int64_t t_dumped, t_sent;	/* the source: post-dump; the images sent (DONE) */
	long long resume_ms;		/* the target: from COMMIT to the tree running */
	unsigned long long *moved;	/* by the pump */
	/* post-copy, the source: what the target said while CRIU served */
	int psz;			/* sizeof(struct page_server_iov) of the source's CRIU */
	bool resumed;			/* RESUMED: the tree runs on the target */
	int end;			/* END: 1 every page arrived, -1 not; 0 none yet */
	int verdict;			/* PUMP_ABORT or PUMP_FINISH when cr ended the page server */
	int64_t quiet_at;		/* when the target last sent or fetched anything */
	unsigned long long seen;
	char buf[MIG_MAX_FRAME + 1];
};

/* A frame for the pump itself (PUMP_*): the post-copy guard. */
static int mig_pump_ctl(struct mig *m, int what)
{
	return mig_sendf(m->gc, (unsigned)what, "%d", m->psz);
}

/*
 * Source, post-copy: the target's frames while CRIU serves its pages (a
 * watch on cr's wait for CRIU's reply). RESULT: the target's tree is
 * restored and waits; COMMIT lets it run. RESUMED: it runs; the page
 * server may end when the target's criu lazy-pages has all it needs.
 * Anything else ends the page server through the pump's guard: ABORT
 * resumes the tree here, where it was never let go on the target (or the
 * target killed its copy, which an ERROR says); FINISH keeps it stopped
 * here when the target's tree may run. A target that neither sends nor
 * fetches anything for the peer wait (mig_wait_s) counts as gone.
 */
static int mig_src_watch(void *arg, bool ready)
{
	struct mig *m = arg;
	uint32_t len;
	int t = -1;

	if (*m->moved != m->seen)
		m->seen = *m->moved, m->quiet_at = now_ms();
	if (!ready && now_ms() - m->quiet_at < (int64_t)mig_wait_s() * 1000)
		return 0;
	if (!ready)
		warn("%s: the target sent nothing and fetched no page for %u s", cfg.phase, mig_wait_s());
	else
		t = mig_recv(m->ctl, m->buf, sizeof(m->buf), &len);
	m->quiet_at = now_ms();
	if (t == MIG_RESULT && !m->committed) {
		m->pid = (pid_t)mig_num(m->buf, "pid");
		m->restore_ms = mig_num(m->buf, "restore_ms");
		/* the pump first: from COMMIT on, a cut stream may have left
		 * the tree running there */
		if (!mig_pump_ctl(m, PUMP_COMMIT) && !mig_send(m->ctl, MIG_COMMIT, "", 0, NULL, 0)) {
			m->committed = true;
			m->t_commit = now_us();
			cfg.phase = "post-copy (the target's tree runs and fetches its memory from here)";
			warn("post-copy: the tree runs on the target (pid %d) and fetches its memory from here: from now on "
			     "there is no way back", (int)m->pid);
			return 0;
		}
	} else if (t == MIG_RESUMED && m->committed && !m->resumed) {
		m->resumed = true;
		m->resume_ms = mig_num(m->buf, "resume_ms");
		return mig_pump_ctl(m, PUMP_RELEASE) ? -1 : 0;
	} else if (t == MIG_END && m->resumed) {
		/* pages that changed on the way: the tree on the target runs
		 * on memory that is not the source's, it is for the user to
		 * decide (mig_post_end says how) */
		m->end = mig_num(m->buf, "status") ? -1 : mig_sum_check(m->buf, "the pages served in post-copy") ? 0 : 1;
		return -1;
	} else if (t > 0 && t != MIG_ERROR)
		warn("the target sent frame %d during post-copy", t);
	/* ERROR (already shown; the target killed its copy), the stream's
	 * end, a stall: the verdict, unless the target's close has already
	 * ended the page server (then mig_post_end settles it) */
	m->verdict = t == MIG_ERROR || !m->committed ? PUMP_ABORT : PUMP_FINISH;
	cfg.abandoned = true;
	mig_pump_ctl(m, m->verdict);
	if (t == MIG_ERROR && m->resumed)
		m->end = -1;
	return -1;
}

/*
 * Source, at the final dump's post-dump (CRIU waits, the tree frozen, the
 * images complete): the page server's end, the images, the target's
 * restore up to its post-restore. 0 lets CRIU finish the dump; -1 makes it
 * resume the tree. For post-copy COMMIT goes out here too: the target's
 * tree must run to fault its memory in, which this dump then serves.
 */
static int mig_src_hold(void *arg, const char *event, int pid, const char *img)
{
	struct mig *m = arg;
	static struct mig_files fl;
	char sum[33];
	int dfd;

	fl.ctl = m->ctl, fl.n = 0, fl.bytes = 0;
	XXH3_128bits_reset(&fl.sum);
	(void)pid;
	if (str_eq(event, "pre-dump"))
		m->t_freeze = now_us();	/* CRIU freezes the tree right after */
	if (!str_eq(event, "post-dump"))
		return 0;
	m->t_dumped = now_us();
	/* the pages went to the target's page server during the dump: its
	 * end (PSDONE) is awaited after the images, not before them */
	if (m->remote && mig_send(m->ctl, MIG_PSEND, "", 0, NULL, 0))
		return -1;
	if ((dfd = open(img, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || dir_each(dfd, mig_send_file, &fl)) {
		warn("send the images of %s:", img);
		close_keep(dfd);
		return -1;
	}
	close(dfd);
	if (m->lazy && mig_pump_ctl(m, PUMP_GUARD))
		return -1;
	xxh_hex(&fl.sum, sum);
	if (mig_sendf(m->ctl, MIG_DONE, "files=%u bytes=%llu sum=%s lazy=%d parent=%s opts=%s%s%s- cgmode=%s", fl.n,
		      fl.bytes, sum, m->lazy, cfg.parent_path[0] ? cfg.parent_path + 3 : "-",
		      cfg.tcp_established ? "tcp-established," : "", cfg.ext_unix_sk ? "ext-unix-sk," : "",
		      cfg.file_locks ? "file-locks," : "", cfg.cg_mode))
		return -1;
	m->t_sent = now_us();
	warn("images sent (%u files, %llu KiB); the target restores", fl.n, fl.bytes >> 10);
	if (m->lazy) {
		/* post-copy: CRIU serves pages only once this returns, and the
		 * target's restore faults some in before its post-restore
		 * (glibc's rseq area, registered by CRIU's restorer): nothing
		 * may wait here. The target's frames are watched instead */
		cfg.watch = mig_src_watch;
		cfg.watch_fd = m->ctl;
		cfg.phase = "the target's restore";
		m->quiet_at = now_ms();
		return 0;
	}
	cfg.phase = "the target's page server";
	if (m->remote && (mig_expect(m->ctl, MIG_PSDONE, m->buf, sizeof(m->buf)) || mig_num(m->buf, "status"))) {
		warn("the target's page server failed: %s", m->buf);
		return -1;
	}
	if (m->remote && mig_sum_check(m->buf, "the pages"))
		return -1;
	cfg.phase = "the target's restore";
	if (mig_expect(m->ctl, MIG_RESULT, m->buf, sizeof(m->buf))) {
		warn("the target did not restore the tree");
		return -1;
	}
	m->pid = (pid_t)mig_num(m->buf, "pid");
	m->restore_ms = mig_num(m->buf, "restore_ms");
	return 0;
}

/*
 * Target, while CRIU restores and before post-restore: the source sends
 * nothing then, so anything it sends (its ERROR) or its end means it gave
 * up: the restore is abandoned (-2, rpc_wait), which kills what CRIU made.
 */
static int mig_dst_watch(void *arg, bool ready)
{
	struct mig *m = arg;
	uint32_t len;
	int t;

	if (!ready)
		return 0;
	t = mig_recv(m->ctl, m->buf, sizeof(m->buf), &len);
	warn("the source %s during the restore: abandoning it", t == MIG_ERROR ? "gave up" : t ? "broke the protocol" : "went away");
	return -2;
}

/* Target, at post-restore (the tree restored, not running): tell the
 * source, and let the tree run only at its COMMIT. */
static int mig_dst_hold(void *arg, const char *event, int pid, const char *img)
{
	struct mig *m = arg;

	(void)img;
	if (!str_eq(event, "post-restore"))
		return 0;
	m->pid = pid;
	cfg.watch = NULL;	/* the go-ahead is read here */
	cfg.phase = "the source's go-ahead (COMMIT)";
	if (mig_sendf(m->ctl, MIG_RESULT, "pid=%d restore_ms=%lld", pid, (long long)(now_us() - m->t_restore) / 1000) ||
	    mig_expect(m->ctl, MIG_COMMIT, m->buf, sizeof(m->buf))) {
		warn("no go-ahead from the source: CRIU kills the restored tree");
		return -1;
	}
	m->committed = true;
	m->t_commit = now_us();
	return 0;
}

/*
 * Source, post-copy, after CRIU's reply: its page server ended with a
 * close, so the tree waits here, stopped. Every page arrived (END): it
 * goes. The target killed its copy: it resumes here (stopped stays set).
 * Unknown (the stream broke once the target's tree could run): it stays
 * stopped, and cr says how to settle it, as stop-copy does after COMMIT.
 */
static int mig_post_end(struct mig *m, const struct pidset *tree, bool *stopped)
{
	static char pids[MAX_CG_PIDS * 8];

	cfg.phase = "post-copy's last pages";
	while (!m->verdict && !m->end && mig_src_watch(m, true) == 0)
		;
	if (m->end > 0) {
		pids_signal(tree, SIGKILL);
		*stopped = false;
		return 0;
	}
	if (m->end < 0) {
		warn("the target could not complete its copy's memory and killed it: the tree resumes here, from the "
		     "checkpoint");
		return -1;
	}
	pids[0] = '\0';
	for (int i = 0; i < tree->n; i++)
		snprintf(pids + strlen(pids), sizeof(pids) - strlen(pids), " %d", (int)tree->v[i]);
	warn("post-copy broke off once the target's tree could run (pid %d there): it may run there, with its memory "
	     "%s. The source tree stays stopped: if the copy runs on the target, kill it here (kill -KILL%s), else "
	     "resume it here (kill -CONT%s)", (int)m->pid, m->resumed ? "possibly incomplete" : "not yet fetched", pids, pids);
	*stopped = false;
	return -1;
}

/* Reap the pump (or the --via command) once cr closed its end: it exits
 * when what it holds has gone out, which a dead network never lets
 * happen, so after a few seconds it is killed. */
static void mig_reap(pid_t pid)
{
	for (int i = 0; pid > 0 && waitpid(pid, NULL, WNOHANG) == 0; i++) {
		if (i == 500)
			kill(pid, SIGKILL);
		usleep(10000);
	}
}

/*
 * The safety net for a die() after migrate's or receive's first side
 * effect, in the checkpoint and restore code they reuse (cfg.cleanup, run
 * by quit()): a stopped source tree runs on, temporary images go. Their
 * own out: paths do the same and then clear it.
 */
static struct {
	const char *dir;
	struct pidset *tree;
	bool *stopped;
} mig_left;

static void mig_cleanup(void)
{
	if (mig_left.stopped && *mig_left.stopped)
		pids_signal(mig_left.tree, SIGCONT);
	if (mig_left.dir)
		rm_rf_at(AT_FDCWD, mig_left.dir);
}

/* MiB with two decimals. */
static const char *mib(unsigned long long bytes, char *buf)
{
	snprintf(buf, 24, "%llu.%02llu", bytes >> 20, (bytes & 0xfffff) * 100 >> 20);
	return buf;
}

/* migrate: the source's state, shared by its phases (the stream's in m) */
struct migrate {
	struct mig *m;
	struct pidset *tree;
	pid_t pid, via, pump;
	int ver, ch, pg, iters;
	criu_features f;
	char tok[256], criu[PATH_MAX], dir[PATH_MAX], img[PATH_MAX], par[16], st[64], b1[24], b2[24];
	char *hello, *pids;
	int64_t t0, t1;
	bool pre, post, stopped, told;
	const char *mname;
};

/*
 * Before anything happens (so it may die): CRIU here, the mode's half that
 * this host decides (the target's comes with READY), the tree and its pids
 * for the target's checks, the root's pid for cmd_dump (not a fresh look at
 * --cgroup).
 */
static int migrate_check(struct migrate *o)
{
	static char pidarg[16];
	static char *argp[1] = { pidarg };
	struct rpc r = { .sk = -1, .sigfd = -1, .status_fd = -1 };
	long long pipe_short;
	char *p;

	mig_token(o->tok, sizeof(o->tok));
	if (rpc_find_criu(o->criu, sizeof(o->criu)))
		return -1;
	if (!o->pid)	/* --cgroup: the root's pid, for the target's checks */
		cmd_dump_cgroup(&o->pid, &(struct cg_dir){ 0 });
	mig_stall(0);
	cfg.phase = "the CRIU checks";
	rpc_deadline(&r);
	if (rpc_open(&r, o->criu, false) || rpc_version(&r) || (r.last = true, rpc_features(&r, &o->f))) {
		rpc_close(&r);
		return -1;
	}
	rpc_close(&r);
	o->ver = r.ver;
	if (r.ver < 31900)
		die("migrate needs CRIU 3.19 or newer on the source (leave_stopped keeps the tree until the target runs "
		    "it); this CRIU is %d.%d.%d", r.ver / 10000, r.ver / 100 % 100, r.ver % 100);
	o->pre = str_eq(cfg.mode, "pre-copy") || str_eq(cfg.mode, "pre-copy+post-copy") ||
		 (str_eq(cfg.mode, "auto") && o->f.mem_track);
	o->post = !!strstr(cfg.mode, "post-copy");
	pipe_short = lazy_pipe_short();
	if (o->pre && !o->f.mem_track)
		die("--mode %s: this kernel has no soft-dirty memory tracking (CONFIG_MEM_SOFT_DIRTY), which pre-copy needs; "
		    "use --mode stop-copy or post-copy", cfg.mode);
	if (o->post && (!o->f.lazy_pages || pipe_short))
		die("--mode %s: %s", cfg.mode, !o->f.lazy_pages ? "this kernel lacks non-cooperative userfaultfd" :
		    "fs.pipe-max-size is too small for CRIU's page server without CAP_SYS_RESOURCE (sysctl -w "
		    "fs.pipe-max-size=4194304): post-copy could end in two running copies");
	proc_tree(o->pid, o->tree);
	mig_stall(pids_rss_mib(o->tree));
	for (int i = 0; i < o->tree->n; i++)
		snprintf(o->pids + strlen(o->pids), MAX_CG_PIDS * 8 - strlen(o->pids), "%s%d", i ? "," : "", (int)o->tree->v[i]);
	snprintf(o->img, sizeof(o->img), "/proc/%d/status", (int)o->pid);
	if (read_file_at(AT_FDCWD, o->img, o->hello, MIG_HELLO_MAX) > 0 && (p = strstr(o->hello, "\nNSpid:"))) {
		/* "NSpid: 1234 1": the init of a pid namespace of its own, which
		 * CRIU restores as a new one: its pids need not be free */
		p[strcspn(p + 1, "\n") + 1] = '\0';
		if (strrchr(p, '\t') != strchr(p, '\t') && str_eq(strrchr(p, '\t') + 1, "1"))
			snprintf(o->pids, MAX_CG_PIDS * 8, "-");
	}
	sig_setup(false);
	snprintf(pidarg, sizeof(pidarg), "%d", (int)o->pid);
	cfg.args = argp;
	cfg.nargs = 1;
	return 0;
}

/*
 * HELLO, and the target's READY with its half of the mode; then the pump
 * that carries everything after. A --listen receiver with too many
 * connections waiting says BUSY: come back (each second, within the step's
 * bound). -1 unwinds: nothing was done.
 */
static int migrate_connect(struct migrate *o)
{
	struct mig *m = o->m;
	int t;

	snprintf(o->hello, MIG_HELLO_MAX, "cr-migrate 2 criu=%d pid=%d mib=%llu pids=%s token=%s", o->ver, (int)o->pid,
		 pids_rss_mib(o->tree), o->pids, o->tok[0] ? o->tok : "-");
	cfg.phase = "the receiver's checks";
	for (int64_t until = now_ms() + (int64_t)mig_wait_s() * 1000;;) {
		uint32_t len;

		if ((o->ch = cfg.via[0] ? mig_via(&o->via) : mig_tcp(cfg.to, false)) < 0)
			return -1;
		/* in one write: a receiver that closes on a HELLO half read
		 * would reset the connection (and the BUSY it sent with it) */
		len = (uint32_t)strlen(o->hello);
		memcpy(o->hello - 8, (uint32_t[]){ htole32(MIG_HELLO), htole32(len) }, 8);
		t = write_all(o->ch, o->hello - 8, 8 + len) ? (warn("send to the other side:"), -1) :
		    mig_recv(o->ch, m->buf, sizeof(m->buf), &len);
		if (t == MIG_READY)
			break;
		if (t != MIG_BUSY || now_ms() >= until) {
			warn("the receiver %s; nothing was done", t == MIG_ERROR ? "refused" : t == MIG_BUSY ?
			     "stayed busy with other connections" : "did not answer");
			return -1;
		}
		info("the receiver is busy with other connections: trying again");
		close(o->ch);
		o->ch = -1;
		mig_reap(o->via);
		if (poll(&(struct pollfd){ cfg.sigfd, POLLIN, 0 }, 1, 1000) > 0) {
			warn("interrupted while the receiver was busy; nothing was done");
			return -1;
		}
	}
	if (o->post && !mig_num(m->buf, "lazy")) {
		warn("--mode %s: the target cannot restore lazily (%s); nothing was done", cfg.mode,
		     mig_field(m->buf, "why", o->st, sizeof(o->st)));
		return -1;
	}
	if ((o->pre || o->post) && (o->ver >= 40200) != (mig_num(m->buf, "criu") >= 40200)) {
		/* CRIU 4.2 widened page_server_iov: the two would misread each other */
		warn("--mode %s: the source's CRIU (%d) and the target's (%lld) speak different page-server protocols "
		     "(changed in CRIU 4.2); use --mode stop-copy, or CRIU 4.2+ on both or neither; nothing was done",
		     cfg.mode, o->ver, mig_num(m->buf, "criu"));
		return -1;
	}
	o->mname = o->pre && o->post ? "pre-copy+post-copy" : o->pre ? "pre-copy" : o->post ? "post-copy" : "stop-copy";
	warn("mode %s", o->mname);
	if (str_eq(cfg.mode, "auto"))
		warn("(auto: %s; post-copy only when asked for: it gives up the way back)",
		     o->f.mem_track ? "this kernel tracks dirty memory" : "no pre-copy: this kernel has no soft-dirty tracking");
	if ((m->ctl = mig_pump_start(o->ch, o->ch, &o->pg, &m->gc, &o->pump, &m->moved)) < 0)
		return -1;
	cfg.moved = m->moved;
	o->ch = -1;
	cfg.migrating = true;
	cfg.ps_fd = o->pg;
	return 0;
}

/* pre-copy: pre-dumps while the tree runs, each into a page server on the
 * target, until one writes few pages or stops shrinking (p.haul). */
static int migrate_precopy(struct migrate *o)
{
	static char phase[32];
	struct mig *m = o->m;
	unsigned long long prev = 0, page = (unsigned long long)getpagesize(), w;
	int64_t tp = 0;

	for (int i = 1; o->pre && i <= (int)cfg.max_iter; i++) {
		int64_t ti = now_us();

		snprintf(phase, sizeof(phase), "pre-dump %d", i);
		cfg.phase = phase;
		snprintf(o->img, sizeof(o->img), "%s/pre-%d", o->dir, i);
		snprintf(o->par, sizeof(o->par), "../pre-%d", i - 1);
		if (mig_sendf(m->ctl, MIG_PS, "dir=pre-%d parent=%s", i, i > 1 ? o->par + 3 : "-") ||
		    mig_expect(m->ctl, MIG_PSREADY, m->buf, sizeof(m->buf)))
			return -1;
		cfg.cmd = C_PRE;
		cfg.image_path = o->img;
		cfg.parent_path = i > 1 ? o->par : "";
		memset(&cfg.last, 0, sizeof(cfg.last));
		if (cmd_dump() != EXIT_OK) {
			warn("pre-dump %d failed: the tree runs on here", i);
			return -1;
		}
		if (mig_send(m->ctl, MIG_PSEND, "", 0, NULL, 0) || mig_expect(m->ctl, MIG_PSDONE, m->buf, sizeof(m->buf)) ||
		    mig_num(m->buf, "status")) {
			warn("the target's page server failed (%s): the tree runs on here", m->buf);
			return -1;
		}
		if (mig_sum_check(m->buf, "the pages of pre-dump iteration")) {
			warn("the tree runs on here");
			return -1;
		}
		w = cfg.last.dump.pages_written;
		o->iters = i;
		snprintf(o->st, sizeof(o->st), ", dirty rate %s MiB/s",
			 mib(w * page * 1000000 / (unsigned long long)(ti - tp + 1), o->b2));
		warn("iteration %d: %llu pages written (%s MiB) in %lld ms%s", i, w, mib(w * page, o->b1),
		     (long long)(now_us() - ti) / 1000, i > 1 ? o->st : "");
		tp = ti;
		if (w <= cfg.min_pages || (i > 1 && cfg.min_shrink && w * 100 > prev * (100 - cfg.min_shrink)) ||
		    i == (int)cfg.max_iter) {
			warn("iterations end: %s", w <= cfg.min_pages ? "few pages written (--min-pages)" :
				 i == (int)cfg.max_iter ? "--max-iterations reached" : "it stopped shrinking (--min-shrink)");
			break;
		}
		prev = w;
	}
	return 0;
}

/*
 * The final dump: the tree frozen while the images go over and the target
 * restores (mig_src_hold), then left stopped, or (post-copy) frozen until
 * its memory has been fetched; then COMMIT, and the source tree ends once
 * the target says RESUMED. -1 unwinds (o->stopped: resume it here).
 */
static int migrate_final(struct migrate *o)
{
	static char conf[PATH_MAX];
	struct mig *m = o->m;
	int fd, t;

	o->t1 = now_us();
	snprintf(o->img, sizeof(o->img), "%s/img", o->dir);
	snprintf(o->par, sizeof(o->par), "../pre-%d", o->iters);
	m->lazy = o->post;
	m->remote = !o->post;	/* stop-copy and pre-copy: the pages stream to the target */
	if (m->remote && (mig_sendf(m->ctl, MIG_PS, "dir=img parent=%s", o->iters ? o->par + 3 : "-") ||
			  mig_expect(m->ctl, MIG_PSREADY, m->buf, sizeof(m->buf))))
		return -1;
	cfg.cmd = C_DUMP;
	cfg.image_path = o->img;
	cfg.parent_path = o->iters ? o->par : "";
	cfg.lazy_pages = o->post;
	if (o->post) {
		snprintf(conf, sizeof(conf), "%s/criu.conf", o->dir);
		snprintf(o->st, sizeof(o->st), "ps-socket %d\n", o->pg);
		if ((fd = open(conf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 || write_all(fd, o->st, strlen(o->st)) ||
		    close(fd)) {
			warn("write %s:", conf);
			return -1;
		}
		cfg.criu_conf = conf;
	}
	cfg.ps_fd = o->pg;
	cfg.hold = mig_src_hold;
	cfg.hold_arg = m;
	proc_tree(o->pid, o->tree);
	memset(&cfg.last, 0, sizeof(cfg.last));
	m->psz = o->ver >= 40200 ? 32 : 24;	/* 4.2 widened page_server_iov.nr_pages */
	o->stopped = !o->post;	/* until COMMIT: a failed dump may have left it stopped */
	cfg.phase = "the final dump";
	t = cmd_dump();
	cfg.hold = NULL, cfg.watch = NULL;
	if (t != EXIT_OK) {
		if (m->committed)
			warn("post-copy broke off after the target's tree ran: the target kills its copy (its memory is not "
			     "complete) and CRIU resumed the tree here, from the checkpoint");
		else if (cfg.abandoned)
			warn("the target did not restore the tree: cr ended CRIU's page server, and CRIU resumed the tree "
			     "here"), o->told = true;
		else
			warn("the dump failed: the tree runs on here"), o->told = true;
		return -1;
	}
	if (o->post) {
		o->stopped = true;	/* leave_stopped: until the target has every page */
		return mig_post_end(m, o->tree, &o->stopped);
	}
	proc_tree(o->pid, o->tree);	/* stopped now: the tasks as they were dumped */
	cfg.phase = "the target's resume (RESUMED)";
	if (mig_send(m->ctl, MIG_COMMIT, "", 0, NULL, 0) || mig_expect(m->ctl, MIG_RESUMED, m->buf, sizeof(m->buf))) {
		/* COMMIT may or may not have arrived, or been acted on */
		o->pids[0] = '\0';
		for (int i = 0; i < o->tree->n; i++)
			snprintf(o->pids + strlen(o->pids), MAX_CG_PIDS * 8 - strlen(o->pids), " %d", (int)o->tree->v[i]);
		warn("no confirmation after the go-ahead: the target may run the tree (pid %d) or may not. The "
		     "source tree stays stopped: if it runs on the target, kill it here (kill -KILL%s), else "
		     "resume it (kill -CONT%s)", (int)m->pid, o->pids, o->pids);
		o->stopped = false;
		return -1;
	}
	m->t_commit = now_us();	/* RESUMED: the tree runs on the target */
	pids_signal(o->tree, SIGKILL);
	o->stopped = false;
	return 0;
}

/*
 * The summary. Downtime: from the freeze (CRIU's pre-dump event) until the
 * tree ran there: RESUMED's arrival, or for post-copy COMMIT plus the
 * target's time from COMMIT to the running tree. Where it went: the final
 * dump (its pages stream to the target meanwhile), sending the other
 * images, the target's restore, and the rest (round trips, the page
 * server's end, CRIU letting go, COMMIT to RESUMED).
 */
static void migrate_summary(struct migrate *o)
{
	struct mig *m = o->m;
	long long dump_ms, xfer_ms, wait_ms, total_ms = (long long)(now_us() - o->t0) / 1000;
	int t;

	if (!m->t_freeze)
		m->t_freeze = o->t1;
	t = (int)((m->t_commit - m->t_freeze) / 1000 + m->resume_ms);
	dump_ms = (m->t_dumped - m->t_freeze) / 1000;
	xfer_ms = (m->t_sent - m->t_dumped) / 1000;
	wait_ms = t - dump_ms - xfer_ms - m->restore_ms;
	if (cfg.json)
		out(1, "{\"mode\":\"%s\",\"iterations\":%d,\"total_ms\":%lld,\"downtime_ms\":%d,\"dump_ms\":%lld,"
		       "\"transfer_ms\":%lld,\"restore_ms\":%lld,\"wait_ms\":%lld,\"mib_moved\":%s,\"target_pid\":%d}\n",
		    o->mname, o->iters, total_ms, t, dump_ms, xfer_ms, m->restore_ms, wait_ms, mib(*m->moved, o->b1), (int)m->pid);
	else
		warn("done: %s, %d pre-dump iteration%s, total %lld ms, downtime %d ms (from the final freeze until the "
		     "tree ran on the target: dump %lld, transfer %lld, restore %lld, waits %lld), %s MiB moved; on the "
		     "target it is pid %d", o->mname, o->iters, o->iters == 1 ? "" : "s", total_ms, t,
		     dump_ms, xfer_ms, m->restore_ms, wait_ms, mib(*m->moved, o->b1), (int)m->pid);
}

/*
 * migrate: checks that may die, then connect (HELLO, READY, the pump),
 * pre-copy, the final dump and its commit, the summary; one way out, which
 * resumes a tree left stopped here and removes the temporary images.
 */
static int cmd_migrate(void)
{
	static struct pidset tree;
	static struct mig *m_m;
	static char hello[8 + MIG_HELLO_MAX], pids[MAX_CG_PIDS * 8];
	struct migrate o_ = { 0 }, *const o = &o_;
	int ret = EXIT_FAIL;

	o->m = BIG(m_m, sizeof(struct mig));
	o->m->ctl = o->m->gc = -1;	/* (static, for its size: not 0, which is stdin) */
	o->tree = &tree, o->hello = hello + 8, o->pids = pids;	/* (HELLO's frame header before it) */
	o->pid = cfg.nargs ? cfg_parse_pid(cfg.args[0]) : 0;
	o->ch = o->pg = -1;
	o->t0 = now_us();
	if (migrate_check(o))
		return EXIT_FAIL;

	/* side effects from here on */
	if (!mkdtemp_(o->dir, sizeof(o->dir), "migrate")) {
		warn("create %s:", o->dir);
		return EXIT_FAIL;
	}
	mig_left.dir = o->dir, mig_left.tree = &tree, mig_left.stopped = &o->stopped;
	cfg.cleanup = mig_cleanup;
	if (!migrate_connect(o) && !migrate_precopy(o) && !migrate_final(o)) {
		ret = EXIT_OK;
		migrate_summary(o);
	}
	if (o->stopped) {
		pids_signal(&tree, SIGCONT);
		if (!o->told)
			warn("the tree (pid %d) runs on here", (int)o->pid);
	}
	close_keep(o->ch);
	close_keep(o->m->ctl);
	close_keep(o->m->gc);
	close_keep(o->pg);
	mig_reap(o->pump);
	mig_reap(o->via);
	rm_rf_at(AT_FDCWD, o->dir);
	mig_left.dir = NULL, mig_left.stopped = NULL;
	return ret;
}

/* MemAvailable of /proc/meminfo in MiB, 0 if unknown. */
static unsigned long long mem_available_mib(void)
{
	char buf[4096], *p;

	if (read_file_at(AT_FDCWD, "/proc/meminfo", buf, sizeof(buf)) < 0 || !(p = strstr(buf, "MemAvailable:")))
		return 0;
	return scan_num(p + 13 + strspn(p + 13, " "), 10) >> 10;
}

/*
 * A private tmpfs of at most MIB MiB for the target's images: made with the
 * new mount API and never attached anywhere (fsopen, fsmount), so it is
 * nobody else's to see and it is gone when the last fd on it closes, cr's,
 * CRIU's or criu lazy-pages', however cr ends. CRIU gets its directories as
 * fds, as always. Huge pages where the kernel has them: the 1 GiB stop-copy
 * bench's dump and restore took 583 and 684 ms with them, 852 and 822
 * without. Returns a directory fd on its root, or -1 (kernels before 5.2,
 * no CAP_SYS_ADMIN).
 */
#ifndef SYS_fsopen
#define SYS_fsopen 430	/* the same on every architecture */
#define SYS_fsconfig 431
#define SYS_fsmount 432
#endif
static int mig_tmpfs(unsigned long long mib)
{
	char size[32];
	int fs = (int)syscall(SYS_fsopen, "tmpfs", 1 /* FSOPEN_CLOEXEC */), mnt = -1, fd = -1;

	snprintf(size, sizeof(size), "%llum", mib);
	if (fs >= 0 && !syscall(SYS_fsconfig, fs, 1 /* FSCONFIG_SET_STRING */, "size", size, 0) &&
	    !syscall(SYS_fsconfig, fs, 1, "mode", "0700", 0) && (syscall(SYS_fsconfig, fs, 1, "huge", "always", 0), 1) &&
	    !syscall(SYS_fsconfig, fs, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0))
		mnt = (int)syscall(SYS_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, 0xe /* MOUNT_ATTR_NOSUID|NODEV|NOEXEC */);
	if (mnt >= 0)
		fd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close_keep(mnt);
	close_keep(fs);
	return fd;
}

/*
 * receive without -D: the images in a private tmpfs (mig_tmpfs) when
 * --tmpfs says yes, or auto and there is room for them and for the
 * restored tree beside them (twice the tree's size, plus 256 MiB, within
 * MemAvailable); else on disk, and cr says why. A dir fd, or -1 (disk).
 */
static int mig_images_tmpfs(unsigned long long mib)
{
	unsigned long long avail = mem_available_mib();
	int fd = -1;

	if (str_eq(cfg.tmpfs, "no")) {
		info("the images go to disk (--tmpfs no)");
		return -1;
	}
	if (str_eq(cfg.tmpfs, "auto") && mib * 2 + 256 > avail) {
		warn("the images go to disk: a %llu MiB tree and its images do not fit in the %llu MiB available", mib,
		     avail);
		return -1;
	}
	if ((fd = mig_tmpfs(mib + mib / 4 + 64)) < 0)
		warn("the images go to disk: no tmpfs for them:");
	else
		info("the images go to a private tmpfs (%llu MiB tree, %llu MiB available)", mib, avail);
	return fd;
}

/* Receive FILE frames (the first, of type t and length len, is in m->buf
 * already) into dirfd up to DONE, which stays in m->buf. Their count and
 * size must be DONE's, and there must be an inventory. */
static int mig_recv_files(struct mig *m, int dirfd, int t, uint32_t len)
{
	static XXH3_state_t xs;
	char cur[NAME_MAX + 1] = "", here[33], there[40];
	unsigned n = 0;
	unsigned long long bytes = 0;
	int fd = -1;

	XXH3_128bits_reset(&xs);
	for (; t == MIG_FILE; t = mig_recv(m->ctl, m->buf, sizeof(m->buf), &len)) {
		size_t nl = strnlen(m->buf, len);

		XXH3_128bits_update(&xs, m->buf, len);
		if (nl == len || !nl || nl > NAME_MAX || strchr(m->buf, '/') || m->buf[0] == '.') {
			warn("the sender sent a bad file name");
			close_keep(fd);
			return -1;
		}
		if (!str_eq(cur, m->buf)) {
			close_keep(fd);
			memcpy(cur, m->buf, nl + 1);
			n++;
			fd = openat(dirfd, cur, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
			if (fd < 0) {
				warn("create %s:", cur);
				return -1;
			}
		}
		bytes += len - nl - 1;
		if (write_all(fd, m->buf + nl + 1, len - nl - 1)) {
			warn("write %s:", cur);
			close(fd);
			return -1;
		}
	}
	close_keep(fd);
	if (t != MIG_DONE)
		return -1;
	if (n != mig_num(m->buf, "files") || bytes != (unsigned long long)mig_num(m->buf, "bytes") ||
	    faccessat_(dirfd, "inventory.img", F_OK)) {
		warn("the image set is incomplete: %u files, %llu bytes arrived (%s)", n, bytes, m->buf);
		return -1;
	}
	xxh_hex(&xs, here);
	if (mig_field(m->buf, "sum", there, sizeof(there))[0] && !str_eq(here, there)) {
		warn("the images changed on the way (XXH3-128 of what arrived: %s; the sender's: %s)", here, there);
		return -1;
	}
	return 0;
}

/* A page server for one (pre-)dump of the source: PAGE_SERVER_CHLD with
 * CRIU reading cfg.ps_fd, into dir/NAME with a parent link to PARENT. No
 * notifications (see cmd_page_server: their ack races the next request). */
static int mig_page_server(struct rpc *r, const char *criu, int dirfd, const char *frame)
{
	char name[64], parent[64], link[80];
	criu_req req;
	criu_resp resp;
	int fd = -1, ok;

	mig_field(frame, "dir", name, sizeof(name));
	mig_field(frame, "parent", parent, sizeof(parent));
	if (!name[0] || strchr(name, '/') || name[0] == '.' || strchr(parent, '/') || parent[0] == '.' ||
	    (mkdirat(dirfd, name, 0700) && errno != EEXIST) || (fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		warn("page server into %s: bad or unusable directory:", name);
		return -1;
	}
	snprintf(link, sizeof(link), "../%s", parent);
	if (!str_eq(parent, "-") && symlinkat(link, fd, "parent") && errno != EEXIST) {
		warn("link %s/parent:", name);
		close(fd);
		return -1;
	}
	rpc_req_init(&req, criu_req_type_PAGE_SERVER_CHLD);
	req.has_keep_open = req.keep_open = true;
	req.has_opts = req.opts.has_ps = req.opts.ps.has_fd = true;
	cmd_fill_opts(&req.opts, fd, dirfd, name);
	snprintf(req.opts.log_file, sizeof(req.opts.log_file), "page-server-%.40s.log", name);
	req.opts.has_notify_scripts = false;
	req.opts.ps.fd = cfg.ps_fd;
	r->sigfd = cfg.sigfd;
	ok = !rpc_open(r, criu, false) && !rpc_version(r) && !rpc_call(r, &req, &resp) && resp.success && resp.has_ps;
	if (!ok) {
		warn("the page server for %s did not start (its log: page-server-%s.log)", name, name);
		rpc_close(r);
	}
	close(fd);
	return ok ? resp.ps.pid : -1;
}

/* The first pid of HELLO's "pids=P,P,..." that is in use here, or 0. */
static pid_t mig_pid_taken(const char *hello)
{
	for (const char *p = strstr(hello, " pids="); p && (p[0] == ',' || p[0] == ' ');) {
		pid_t q = (pid_t)scan_num(p += p[0] == ',' ? 1 : 6, 10);

		if (q > 0 && (!kill(q, 0) || errno != ESRCH))
			return q;
		p += strspn(p, "0123456789");
	}
	return 0;
}

/* receive: the target's state, shared by its phases (the stream's in m) */
struct receive {
	struct mig *m;
	char tok[256], got[256], criu[PATH_MAX], dir[PATH_MAX], img[PATH_MAX], sum[33];
	char *hello;
	struct rpc ps;
	int cin, cout, dfd, ifd, pg, lazy, ver;
	bool tmp, lazy_left, inmem;
	pid_t pump;
	uint32_t len;
	struct cg_layout l;
	struct cg_dir cg;
};

/* The sender: on stdin (--stdio), or the first --listen peer to present
 * the token (mig_listen); either says cr-migrate 2. -1: nothing began. */
static int receive_hello(struct receive *o)
{
	mig_token(o->tok, sizeof(o->tok));
	if (rpc_find_criu(o->criu, sizeof(o->criu)))
		return -1;
	if (cfg.cgroup[0])	/* the target cgroup is checked before a peer is accepted */
		cg_layout_resolve(&o->l, &o->cg, false);
	sig_setup(false);
	cfg.phase = "the sender's HELLO";
	if (!cfg.use_stdio)
		return (o->cin = o->cout = mig_listen(o->tok, o->hello)) < 0 ? -1 : 0;
	if (mig_recv(o->cin, o->hello, MIG_HELLO_MAX + 1, &o->len) != MIG_HELLO || strncmp(o->hello, "cr-migrate 2 ", 13)) {
		warn("the peer did not introduce itself as cr migrate (protocol 2)");
		return -1;
	}
	if (o->tok[0] && !mig_token_ok(o->tok, mig_field(o->hello, "token", o->got, sizeof(o->got)))) {
		warn("refused a peer that did not present the token of --token-file");
		return -1;
	}
	return 0;
}

/*
 * The checks, before anything moves (CRIU here, its version against the
 * source's, the tree's pids free), the image directory (a private tmpfs, a
 * temporary directory or -D's), then READY and the pump. -1: the sender
 * was told why (ERROR).
 */
static int receive_ready(struct receive *o)
{
	struct rpc r = { .sk = -1, .sigfd = -1, .status_fd = -1 };
	struct mig *m = o->m;
	criu_features f;
	char why[128] = "";
	pid_t q;

	cfg.phase = "the CRIU checks";
	rpc_deadline(&r);
	if (rpc_open(&r, o->criu, false) || rpc_version(&r) || (r.last = true, rpc_features(&r, &f))) {
		rpc_close(&r);
		return mig_sendf(o->cout, MIG_ERROR, "the target's CRIU is not usable"), -1;
	}
	rpc_close(&r);
	o->ver = r.ver;
	mig_stall((unsigned long long)mig_num(o->hello, "mib"));
	if (r.ver < mig_num(o->hello, "criu"))
		return mig_sendf(o->cout, MIG_ERROR, "the target's CRIU (%d) is older than the source's (%lld)", r.ver,
				 mig_num(o->hello, "criu")), -1;
	if ((q = mig_pid_taken(o->hello)))
		return mig_sendf(o->cout, MIG_ERROR, "pid %d of the tree is taken on the target", (int)q), -1;
	if (o->tmp && (o->dfd = mig_images_tmpfs((unsigned long long)mig_num(o->hello, "mib"))) >= 0) {
		/* CRIU and criu lazy-pages find it through cr's fd */
		snprintf(o->dir, sizeof(o->dir), "/proc/%d/fd/%d", (int)getpid(), o->dfd);
		cfg.image_path = o->dir;
		o->tmp = false, o->inmem = true;
	} else if (str_eq(cfg.tmpfs, "yes"))
		return mig_sendf(o->cout, MIG_ERROR, "the target cannot make a tmpfs for the images (--tmpfs yes)"), -1;
	if (o->tmp && !mkdtemp_(o->dir, sizeof(o->dir), "receive")) {
		o->dir[0] = '\0';	/* (a name mkdtemp_ tried: not cr's to remove) */
		return mig_sendf(o->cout, MIG_ERROR, "the target cannot create an image directory"), -1;
	}
	if (o->tmp) {
		mig_left.dir = o->dir;
		cfg.cleanup = mig_cleanup;
		cfg.image_path = o->dir;
	}
	if (o->dfd < 0 && ((!o->tmp && mkdir(cfg.image_path, 0700) && errno != EEXIST) ||
	    (o->dfd = open(cfg.image_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || dir_is_empty(AT_FDCWD, cfg.image_path) != 1))
		return mig_sendf(o->cout, MIG_ERROR, "the target's image directory %s is not an empty directory", cfg.image_path), -1;
	o->lazy = f.lazy_pages && !lazy_pipe_short();
	if (!o->lazy)
		snprintf(why, sizeof(why), " why=%s", !f.lazy_pages ? "no-userfaultfd" : "fs.pipe-max-size-too-small");
	if (mig_sendf(o->cout, MIG_READY, "criu=%d lazy=%d%s", r.ver, o->lazy, why) ||
	    (m->ctl = mig_pump_start(o->cin, o->cout, &o->pg, &m->gc, &o->pump, &m->moved)) < 0)
		return -1;
	cfg.moved = m->moved;
	cfg.ps_fd = o->pg;
	cfg.migrating = true;
	return 0;
}

/*
 * The sender's dump: a page server for each pre-copy iteration and for
 * the final dump's pages. One ends when its dump flushed, usually before
 * PSEND arrives: it is waited for then (a failed one ends all at once, so
 * the source's CRIU is not left writing into nothing), else at PSEND.
 * Returns what ended it (FILE: the images begin; else mig_recv_watch's
 * answer, which receive_images reports), or -4 when it failed and said so.
 */
static int receive_dump(struct receive *o)
{
	struct mig *m = o->m;
	int t, psp = -1, pst = -1;

	cfg.phase = "the sender's dump";
	while ((t = mig_recv_watch(m->ctl, m->buf, sizeof(m->buf), &o->len, psp > 0 ? psp : 0)) == MIG_PS ||
	       t == MIG_PSEND || t == -3) {
		if (t == MIG_PS) {
			rpc_close(&o->ps);	/* one at a time */
			if ((psp = mig_page_server(&o->ps, o->criu, o->dfd, m->buf)) < 0 || o->ps.interrupted ||
			    mig_send(m->ctl, MIG_PSREADY, "", 0, NULL, 0)) {
				mig_sendf(m->ctl, MIG_ERROR, o->ps.interrupted ? "the target was interrupted by %s" :
					  "the target's page server did not start", sig_name(o->ps.interrupted));
				return -4;
			}
			continue;
		}
		if (psp > 0) {
			criu_req req;
			criu_resp resp;

			rpc_req_init(&req, criu_req_type_WAIT_PID);
			req.has_pid = true;
			req.pid = (uint32_t)psp;
			pst = !rpc_call(&o->ps, &req, &resp) && resp.success && resp.has_status && !o->ps.interrupted ? resp.status : -1;
			rpc_close(&o->ps);
			psp = -1;
		}
		if (t == -3 && !pst)
			continue;
		xxh_hex(&pump_sh->in, o->sum);
		if (mig_sendf(m->ctl, t == -3 ? MIG_ERROR : MIG_PSDONE, "status=%d sum=%s (the target's page server)", pst,
			      o->sum) || pst)
			return -4;
		pst = -1;
	}
	return t;
}

/* The images (FILE frames, then DONE), the link to their parent, and the
 * dump's options that the restore needs. -1: the sender was told. */
static int receive_images(struct receive *o, int t)
{
	struct mig *m = o->m;

	if (t != MIG_FILE || (mkdirat(o->dfd, "img", 0700) && errno != EEXIST) ||
	    (o->ifd = openat(o->dfd, "img", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		warn("the sender ended before sending the images");
		return -1;
	}
	if (mig_recv_files(m, o->ifd, t, o->len))
		return mig_sendf(m->ctl, MIG_ERROR, "the images did not arrive whole"), -1;
	mig_field(m->buf, "parent", o->got, sizeof(o->got));
	snprintf(o->img, sizeof(o->img), "../%s", o->got);
	if (!str_eq(o->got, "-") && !strchr(o->got, '/') && symlinkat(o->img, o->ifd, "parent") && errno != EEXIST)
		return mig_sendf(m->ctl, MIG_ERROR, "the target cannot link its images to their parent"), -1;
	snprintf(o->img, sizeof(o->img), "%s/img", cfg.image_path);
	cfg.image_path = o->img;
	cfg.tcp_established = !!strstr(m->buf, "tcp-established,");
	cfg.ext_unix_sk = !!strstr(m->buf, "ext-unix-sk,");
	cfg.file_locks = !!strstr(m->buf, "file-locks,");
	mig_field(m->buf, "cgmode", o->got, sizeof(o->got));
	if (in_choices(o->got, "soft|full|strict|ignore"))
		cfg.cg_mode = o->got;
	cfg.lazy_pages = mig_num(m->buf, "lazy") && o->lazy;
	return 0;
}

/*
 * The restore, held at post-restore until the source's COMMIT
 * (mig_dst_hold), then RESUMED; for post-copy, END once criu lazy-pages
 * has every page. -D keeps what arrived as a checkpoint of its own, with
 * its manifest. -1 unwinds (lazy_left: the tree runs without its memory).
 */
static int receive_restore(struct receive *o)
{
	struct mig *m = o->m;
	int st = -1;

	cfg.cmd = C_RST;
	cfg.phase = "the restore";
	cfg.hold = mig_dst_hold;
	cfg.hold_arg = m;
	cfg.watch = mig_dst_watch;
	cfg.watch_fd = m->ctl;
	m->t_restore = now_us();
	if (cmd_restore() != EXIT_OK) {
		cfg.watch = NULL;
		return mig_sendf(m->ctl, MIG_ERROR, "the restore on the target failed (%s%s)", o->tmp || o->inmem ?
				 "the target quotes CRIU's log" : "its log: ", o->tmp || o->inmem ? "" : o->img), -1;
	}
	cfg.hold = NULL, cfg.watch = NULL;
	if (mig_sendf(m->ctl, MIG_RESUMED, "pid=%d resume_ms=%lld", (int)cfg.restored, (long long)(now_us() - m->t_commit) / 1000))
		return -1;
	warn("restored pid %d; it runs", (int)cfg.restored);
	if (cfg.lazyd > 0) {
		if (lazy_wait(cfg.lazyd, &st))
			st = -1;
		cfg.lazyd = -1;
		if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			warn("criu lazy-pages failed (see %s/lazy-pages.log)", o->img);
			mig_sendf(m->ctl, MIG_END, "status=%d", st);
			o->lazy_left = true;
			return -1;
		}
		xxh_hex(&pump_sh->in, o->sum);
		if (mig_sendf(m->ctl, MIG_END, "status=0 sum=%s", o->sum))
			return -1;
	}
	if (!o->tmp && !o->inmem && man_write(o->ifd, o->img, cfg.lazy_pages))
		warn("the images in %s are kept without a manifest", o->img);
	return 0;
}

/*
 * receive: the sender's HELLO, the checks and READY, the sender's dump,
 * the images, the restore; one way out, which kills a restored tree whose
 * post-copy broke off (its memory is incomplete: it must not run on) and
 * removes the temporary images.
 */
static int cmd_receive(void)
{
	static struct mig *m_m;
	static char hello[MIG_HELLO_MAX + 1];
	struct receive o_ = { 0 }, *const o = &o_;
	int ret = EXIT_FAIL, t;

	o->m = BIG(m_m, sizeof(struct mig));
	o->m->ctl = o->m->gc = -1;	/* (static, for its size: not 0, which is stdin) */
	o->hello = hello;
	o->ps = (struct rpc){ .sk = -1, .sigfd = -1, .status_fd = -1 };
	o->cin = 0, o->cout = 1, o->dfd = o->ifd = o->pg = -1;
	o->tmp = !cfg.set[O_image_path];
	prog = "cr: receive";	/* with --via both ends share one stderr: "cr: receive: ..." */
	if (receive_hello(o))
		return EXIT_FAIL;
	if (!receive_ready(o) && (t = receive_dump(o)) != -4 && !receive_images(o, t) && !receive_restore(o))
		ret = EXIT_OK;
	if (o->lazy_left || (cfg.lazyd > 0 && ret != EXIT_OK)) {
		static struct pidset tree;

		proc_tree(cfg.restored, &tree);
		pids_signal(&tree, SIGKILL);
		warn("the restored tree (pid %d) is killed: its memory would be incomplete", (int)cfg.restored);
		if (cfg.lazyd > 0)
			kill(cfg.lazyd, SIGKILL), mig_reap(cfg.lazyd);
	}
	rpc_close(&o->ps);
	close_keep(o->ifd);
	close_keep(o->dfd);
	close_keep(o->m->ctl);
	close_keep(o->m->gc);
	mig_reap(o->pump);
	if (o->tmp && o->dir[0])
		rm_rf_at(AT_FDCWD, o->dir);
	mig_left.dir = NULL;
	return ret;
}

/* ================================= main ================================== */

int main(int argc, char **argv)
{
	static struct argv_val vals[MAX_ARGS];
	const char *conf = NULL;
	char where[80];
	int n;

	if (argc > MAX_ARGS)
		usage_die("more than %d arguments", MAX_ARGS - 1);
	big_a.p = mmap(NULL, BIG_RESERVE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (big_a.p == MAP_FAILED)
		die("cannot reserve %u MiB of address space for cr's buffers:", BIG_RESERVE >> 20);
	sig_disp(SIGPIPE, SIG_IGN);
	/* images hold process memory, secrets included: whatever CRIU and cr
	 * create is private to root (CRIU creates its files 0644 & ~umask) */
	cfg.umask0 = umask(077);
	cfg_defaults();
	cfg.ps_fd = -1;
	n = cfg_parse_argv(argc, argv, vals);
	if (cfg.cmd == C_G) {
		print_version();
		return EXIT_OK;
	}
	for (int i = 0; i < n; i++)
		if (vals[i].id == O_config) {
			if (!*vals[i].val)
				usage_die("--config: empty value (a file, or 'none')");
			if (cfg_set(O_config, vals[i].val, "--config", true))
				exit(EXIT_USAGE);
			conf = vals[i].val;
		}
	if (!conf)
		cfg_load_ini("/etc/cr.ini", false);
	else if (!str_eq(conf, "none"))
		cfg_load_ini(conf, true);
	for (int i = 0; i < n; i++) {
		snprintf(where, sizeof(where), "--%s", vals[i].name);
		if (cfg_set((enum opt_id)vals[i].id, vals[i].val, where, true))
			exit(EXIT_USAGE);
	}
	cfg_check();
	if (cfg.cmd == C_CHK)
		return cmd_check();
	if (cfg.cmd == C_STATS)
		return cmd_stats();
	if (cfg.cmd == C_VERIFY)
		return cmd_verify();
	if (cfg.cmd == C_INSPECT)
		return cmd_inspect();
	if (cfg.cmd == C_PS)
		return cmd_page_server();
	if (cfg.cmd == C_MIG)
		return cmd_migrate();
	if (cfg.cmd == C_RCV)
		return cmd_receive();
	if (cfg.cmd == C_RST)
		return cmd_restore();
	return cmd_dump();
}
