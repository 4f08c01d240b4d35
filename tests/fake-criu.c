/* SPDX-License-Identifier: MIT */
/*
 * fake-criu: a FAKE criu, for cr's fault-injection tests ONLY.
 *
 * THIS IS NOT CRIU. It checkpoints nothing and restores nothing. It speaks
 * the server side of CRIU's RPC protocol (../../shared/criu-rpc.md sections
 * 1-4) well enough to stand in for `criu swrk FD`, so that cr's tests can
 * make "CRIU" do what a real one cannot be made to do on demand: crash,
 * hang, lie about its version, send garbage, oversized or truncated
 * datagrams, flood cr with notifications, pass it fds nobody asked for.
 * Never install it as criu.
 *
 * cr starts it exactly as it starts real CRIU: `fake-criu swrk FD`, FD being
 * its end of a SOCK_SEQPACKET socketpair, one protobuf message per datagram.
 * The environment variable FAKE_CRIU (cr passes its environment through)
 * picks the behaviour: a comma-separated list of at most one fault and,
 * optionally, version=X.Y[.Z] and mem-track. Each fault fires once, at the
 * request named below (its "trigger"); every request before it is answered
 * as in `ok`. MODE@TYPE moves the trigger to the first request of that type
 * (VERSION, FEATURE_CHECK, CHECK, DUMP, PRE_DUMP, RESTORE, ...).
 * MODE@script (a notification name: pre-dump, query-ext-files, post-dump,
 * pre-restore, post-restore, pre-resume, post-resume) fires once cr has
 * acked that notification: exit, crash, hang and the floods act there (e.g.
 * crash@post-dump: CRIU dies after the images are written, before its
 * reply); garbage, truncated, oversized, wrongtype and fd spoil the next
 * message sent (the next notification, or the final reply).
 *
 *   ok (default)        a minimal CRIU 4.2.1: VERSION; FEATURE_CHECK
 *                       (mem_track=no lazy_pages=yes pidfd_store=yes);
 *                       CHECK; DUMP with the notifications pre-dump,
 *                       query-ext-files, post-dump (and status-ready when
 *                       lazy_pages is set; an inventory.img is
 *                       written so the result restores); PRE_DUMP; RESTORE
 *                       with pre-restore, post-restore (pid), pre-resume,
 *                       post-resume, whose "restored tree" is a process that
 *                       sleeps (see FAKE_CRIU_CHILD). The log named by
 *                       opts.log_file is written into the work directory.
 *                       keep_open, the pre-dump chain and the refusal of
 *                       keep_open on other types work as in CRIU. The dumped
 *                       process is left alone (real CRIU kills it unless
 *                       leave_running): tests may pass any live pid.
 *   version=X.Y[.Z]     VERSION reports X.Y (and sublevel Z if given)
 *   mem-track           FEATURE_CHECK reports mem_track=yes (so cr will
 *                       pre-dump)
 *   no-uffd             FEATURE_CHECK reports lazy_pages=no (a kernel
 *                       without userfaultfd)
 *   msg=TEXT            log's error line says TEXT instead of "fake
 *                       failure" (e.g. CRIU's "Can't get 1:16 opt", to see
 *                       the fix cr names for it)
 *   exit                exit(0) on reading the first request, no reply
 *   exit-after-version  answer VERSION, exit(0) on reading the next request
 *   crash               answer VERSION, SIGSEGV on the next request
 *   garbage             answer the first request with 64 bytes that do not
 *                       decode as criu_resp
 *   truncated           answer the first request with a valid criu_resp
 *                       (with a cr_errmsg string) cut in the middle
 *   oversized           answer the first request with one 100000-byte
 *                       datagram (a valid reply padded with an unknown field)
 *   wrongtype           answer VERSION with a reply of type DUMP (RESTORE
 *                       when the request was DUMP)
 *   flood               answer VERSION; before answering the next request,
 *                       10000 NOTIFY "pre-dump" round trips, each acked
 *   flood-noack         answer VERSION; on the next request send 1000
 *                       NOTIFYs without reading acks (giving up when the
 *                       socket stays full for 5 s), then exit(0)
 *   flood-hang          as flood-noack, but then hang (as in hang) instead
 *                       of exiting: cr's acks fill the socket, so a cr
 *                       that sends without a deadline blocks for good
 *   hang                answer VERSION and FEATURE_CHECK, then never answer
 *                       (until SIGKILL; it gives up by itself after 300 s)
 *   fd                  answer VERSION with an SCM_RIGHTS fd attached (a
 *                       pipe's read end) that nobody asked for; at the next
 *                       datagram or EOF, complain on stderr if cr still
 *                       holds it
 *   log                 DUMP/PRE_DUMP/RESTORE/CHECK fail: the log
 *                       (opts.log_file in the work dir, found through
 *                       /proc/<peer>/fd/N) gets "Error (criu/cr-dump.c:1):
 *                       fake failure" (cr-restore.c, cr-check.c), the reply
 *                       has success=false, that cr_errmsg and cr_errno
 *                       ESRCH (DUMP, PRE_DUMP) or EEXIST (RESTORE).
 *                       log@FEATURE_CHECK: the error line goes to stderr
 *                       (criu/kerndat.c, or msg= as it is when it starts
 *                       "Error (") and the reply has success=false, as
 *                       CRIU's kernel probe fails (CRIU 3.17 on a new
 *                       kernel's vDSO: msg=Error (criu/vdso.c:381): ...)
 *
 * FAKE_CRIU_RECORD=FILE: append one line per request to FILE, its type and
 * the options cr set ("DUMP pid=12 leave_stopped=1 cg_root=cpu:/x ..."),
 * so tests can check what cr asked for without a real CRIU.
 *
 * FAKE_CRIU_CHILD=SECS[:STATUS] (default 60:0): the restored "tree" sleeps
 * SECS seconds, then exits with STATUS. With opts.rst_sibling (restore
 * --wait) it is created with CLONE_PARENT, i.e. as cr's child, as CRIU does.
 *
 * stderr stays quiet except for internal errors and for protocol mistakes
 * cr makes (an undecodable request, keep_open where CRIU refuses it, a kept
 * unsolicited fd): those are what a test wants to see.
 *
 * Build (from the top directory):
 *   cc -O2 -Wall -Wextra -Inanopb -o tests/bin/fake-criu tests/fake-criu.c \
 *      nanopb/rpc.pb.c nanopb/pb_common.c nanopb/pb_encode.c nanopb/pb_decode.c
 */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pb_decode.h"
#include "pb_encode.h"
#include "rpc.pb.h"

#define T(x) criu_req_type_##x
#define BIT(t) (1u << (t))
#define ALL_TYPES 0xffffffffu

enum fault {
	FK_OK, FK_EXIT, FK_CRASH, FK_GARBAGE, FK_TRUNC, FK_OVERSIZE, FK_WRONGTYPE, FK_FLOOD, FK_FLOOD_NOACK,
	FK_FLOOD_HANG, FK_HANG, FK_FD, FK_LOG,
};

static const struct {
	const char *name;
	enum fault f;
	unsigned when;	/* request types that trigger it ... */
	bool negate;	/* ... or, when set, the types that do not */
} modes[] = {
	{ "ok", FK_OK, 0, false },
	{ "exit", FK_EXIT, ALL_TYPES, false },
	{ "exit-after-version", FK_EXIT, BIT(T(VERSION)), true },
	{ "crash", FK_CRASH, BIT(T(VERSION)), true },
	{ "garbage", FK_GARBAGE, ALL_TYPES, false },
	{ "truncated", FK_TRUNC, ALL_TYPES, false },
	{ "oversized", FK_OVERSIZE, ALL_TYPES, false },
	{ "wrongtype", FK_WRONGTYPE, BIT(T(VERSION)), false },
	{ "flood", FK_FLOOD, BIT(T(VERSION)), true },
	{ "flood-noack", FK_FLOOD_NOACK, BIT(T(VERSION)), true },
	{ "flood-hang", FK_FLOOD_HANG, BIT(T(VERSION)), true },
	{ "hang", FK_HANG, BIT(T(VERSION)) | BIT(T(FEATURE_CHECK)), true },
	{ "fd", FK_FD, BIT(T(VERSION)), false },
	{ "log", FK_LOG, BIT(T(DUMP)) | BIT(T(PRE_DUMP)) | BIT(T(SINGLE_PRE_DUMP)) | BIT(T(RESTORE)) | BIT(T(CHECK)), false },
};

static const char *const type_names[] = {
	"EMPTY", "DUMP", "RESTORE", "CHECK", "PRE_DUMP", "PAGE_SERVER", "NOTIFY", "CPUINFO_DUMP",
	"CPUINFO_CHECK", "FEATURE_CHECK", "VERSION", "WAIT_PID", "PAGE_SERVER_CHLD", "SINGLE_PRE_DUMP",
};

#define NTYPES ((int)(sizeof(type_names) / sizeof(type_names[0])))

static struct {
	enum fault f;
	unsigned when;
	bool negate;
	bool fired;
	int major, minor, sublevel;	/* sublevel < 0: not sent */
	bool mem_track, no_uffd;
	char msg[160];	/* log's error text */
	char script[64];	/* MODE@script: the notification that triggers */
	unsigned child_secs;
	int child_status;
} cfg = { FK_OK, 0, false, false, 4, 2, 1, false, false, "fake failure", "", 60, 0 };

static int sk = -1;
static pid_t peer;
static bool spoil_next;	/* MODE@script fired: spoil the next message sent */
static ino_t sent_ino;	/* the unsolicited pipe (fd mode) */
static const char *sent_with;

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fake-criu: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *type_name(int t)
{
	return t >= 0 && t < NTYPES ? type_names[t] : "UNKNOWN";
}

static bool ver_at_least(int major, int minor)
{
	return cfg.major > major || (cfg.major == major && cfg.minor >= minor);
}

static void parse_env(void)
{
	const char *env = getenv("FAKE_CRIU"), *child = getenv("FAKE_CRIU_CHILD");
	char buf[256], *save = NULL;
	bool have_fault = false;

	if (child && sscanf(child, "%u:%d", &cfg.child_secs, &cfg.child_status) < 1) {
		say("FAKE_CRIU_CHILD=%s: expected SECS[:STATUS]", child);
		exit(1);
	}
	if (!env || !*env)
		return;
	snprintf(buf, sizeof(buf), "%s", env);
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		char *at = strchr(w, '@');
		size_t i;

		if (!strncmp(w, "version=", 8)) {
			int n = sscanf(w + 8, "%d.%d.%d", &cfg.major, &cfg.minor, &cfg.sublevel);

			if (n < 2) {
				say("FAKE_CRIU: %s: expected version=X.Y[.Z]", w);
				exit(1);
			}
			if (n == 2)
				cfg.sublevel = -1;
			continue;
		}
		if (!strcmp(w, "mem-track")) {
			cfg.mem_track = true;
			continue;
		}
		if (!strcmp(w, "no-uffd")) {
			cfg.no_uffd = true;
			continue;
		}
		if (!strncmp(w, "msg=", 4)) {
			snprintf(cfg.msg, sizeof(cfg.msg), "%s", w + 4);
			continue;
		}
		if (at)
			*at++ = '\0';
		for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
			if (!strcmp(w, modes[i].name))
				break;
		if (i == sizeof(modes) / sizeof(modes[0]) || have_fault) {
			say("FAKE_CRIU=%s: %s", env, have_fault ? "more than one mode" : "unknown mode");
			exit(1);
		}
		have_fault = true;
		cfg.f = modes[i].f;
		cfg.when = modes[i].when;
		cfg.negate = modes[i].negate;
		if (at && (*at < 'A' || *at > 'Z')) {
			/* the notifications this fake sends (a typo would never fire) */
			static const char scripts[] = " pre-dump query-ext-files post-dump pre-restore post-restore "
						      "pre-resume post-resume ";
			char word[80];

			snprintf(word, sizeof(word), " %.64s ", at);
			if (cfg.f == FK_LOG || !strstr(scripts, word)) {
				say("FAKE_CRIU=%s: %s%s", env, cfg.f == FK_LOG ? "log takes @TYPE only" :
					"@ wants a request type or one of:", cfg.f == FK_LOG ? "" : scripts);
				exit(1);
			}
			snprintf(cfg.script, sizeof(cfg.script), "%s", at);
			cfg.when = 0;
			cfg.negate = false;
		} else if (at) {
			int t;

			for (t = 0; t < NTYPES && strcmp(at, type_names[t]); t++)
				;
			if (t == NTYPES) {
				say("FAKE_CRIU=%s: unknown request type %s", env, at);
				exit(1);
			}
			cfg.when = BIT(t);
			cfg.negate = false;
		}
	}
}

/* The unsolicited fd (fd mode): does cr still hold it? Checked at the
 * datagram or EOF that follows, when cr has dealt with the reply. */
static void check_leak(void)
{
	char path[64], link[64], want[64];
	struct dirent *e;
	DIR *d;

	if (!sent_ino)
		return;
	snprintf(want, sizeof(want), "pipe:[%lu]", (unsigned long)sent_ino);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)peer);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		ssize_t n;

		n = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
		if (n > 0 && (link[n] = '\0', !strcmp(link, want)))
			say("cr still holds the unsolicited fd that came with the %s reply (its fd %s, %s)", sent_with,
			    e->d_name, want);
	}
	if (d)
		closedir(d);
	sent_ino = 0;
}

/* FAKE_CRIU_RECORD: what cr asked for, one line per request. */
static void record(const criu_req *req)
{
	const char *file = getenv("FAKE_CRIU_RECORD");
	const criu_opts *o = &req->opts;
	char line[16384];
	size_t n = 0;
	FILE *f;

#define ADD(...) (n += (size_t)snprintf(line + n, n < sizeof(line) ? sizeof(line) - n : 0, __VA_ARGS__))
#define FLAG(x) do { if (o->has_##x) ADD(" " #x "=%d", (int)o->x); } while (0)
	if (!file || !*file)
		return;
	ADD("%s", type_name(req->type));
	if (req->has_opts) {
		FLAG(pid);
		FLAG(leave_running);
		FLAG(leave_stopped);
		FLAG(track_mem);
		FLAG(auto_dedup);
		FLAG(lazy_pages);
		FLAG(rst_sibling);
		FLAG(shell_job);
		FLAG(tcp_established);
		FLAG(notify_scripts);
		FLAG(manage_cgroups_mode);
		FLAG(network_lock);
		FLAG(timeout);
		if (o->has_parent_img)
			ADD(" parent_img=%s", o->parent_img);
		if (o->has_freeze_cgroup)
			ADD(" freeze_cgroup=%s", o->freeze_cgroup);
		if (o->has_ps)
			ADD(" ps=%s:%d%s", o->ps.has_address ? o->ps.address : "", o->ps.has_port ? o->ps.port : -1,
			    o->ps.has_fd ? ",fd" : "");
		for (pb_size_t i = 0; i < o->cg_root_count; i++)
			ADD(" cg_root=%s:%s", o->cg_root[i].has_ctrl ? o->cg_root[i].ctrl : "", o->cg_root[i].path);
		for (pb_size_t i = 0; i < o->external_count; i++)
			ADD(" external=%s", o->external[i]);
	}
#undef FLAG
#undef ADD
	if ((f = fopen(file, "a"))) {
		fprintf(f, "%.*s\n", (int)(n < sizeof(line) ? n : sizeof(line) - 1), line);
		fclose(f);
	}
}

/*
 * One request. Returns 1, or 0 on EOF (cr closed its end). A request that
 * does not decode is a bug in cr: CRIU closes the socket without a reply
 * and exits 255; so does this.
 */
static int recv_req(criu_req *req)
{
	static uint8_t buf[criu_req_size + 64];
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	pb_istream_t is;
	ssize_t n;

	do
		n = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	check_leak();
	if (n < 0 && errno == ECONNRESET)
		n = 0;
	if (n < 0) {
		say("recvmsg: %s", strerror(errno));
		exit(255);
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			say("cr sent an fd with a request");
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(fd);
			}
		}
	if (n == 0)
		return 0;
	if (mh.msg_flags & MSG_TRUNC) {
		say("a request from cr is larger than %zu bytes: closing, as CRIU would on garbage", sizeof(buf));
		exit(255);
	}
	memset(req, 0, sizeof(*req));
	is = pb_istream_from_buffer(buf, (size_t)n);
	if (!pb_decode(&is, criu_req_fields, req)) {
		say("cannot decode a request from cr (%zd bytes: %s): closing without a reply, as CRIU does", n,
		    PB_GET_ERROR(&is));
		exit(255);
	}
	return 1;
}

static void send_raw(const void *buf, size_t len, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	/* A dead peer is not an internal error: CRIU ignores SIGPIPE too. */
	while (sendmsg(sk, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static size_t encode(const criu_resp *resp, uint8_t *buf, size_t size)
{
	pb_ostream_t os = pb_ostream_from_buffer(buf, size);

	if (!pb_encode(&os, criu_resp_fields, resp)) {
		say("cannot encode a %s reply: %s", type_name(resp->type), PB_GET_ERROR(&os));
		exit(255);
	}
	return os.bytes_written;
}

/* Does buf decode as a criu_resp? The malformed replies must not. */
static bool decodes(const uint8_t *buf, size_t len)
{
	static criu_resp r;
	pb_istream_t is = pb_istream_from_buffer(buf, len);

	return pb_decode(&is, criu_resp_fields, &r);
}

/* Send a reply, spoiled the way fault f says. */
static void send_resp(criu_resp *resp, enum fault f)
{
	static uint8_t big[100000];
	uint8_t buf[criu_resp_size];
	size_t n;

	if (spoil_next && f == FK_OK) {
		spoil_next = false;
		f = cfg.f;
	}
	switch (f) {
	case FK_GARBAGE:
		/* field 1 with wire type 7 (none such) first, then noise */
		big[0] = 0x0f;
		for (uint32_t i = 1, x = 2463534242u; i < 64; i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			big[i] = (uint8_t)x;
		}
		if (decodes(big, 64)) {
			say("internal error: the garbage decodes");
			exit(255);
		}
		send_raw(big, 64, -1);
		return;
	case FK_TRUNC:
		resp->has_cr_errmsg = true;
		snprintf(resp->cr_errmsg, sizeof(resp->cr_errmsg),
			 "Error (fake-criu): this reply is cut short in the middle of this string\n");
		n = encode(resp, buf, sizeof(buf));
		/* cut inside cr_errmsg (field 9): what follows it is small */
		n -= resp->has_version ? 40 : 20;
		if (decodes(buf, n)) {
			say("internal error: the truncated reply decodes");
			exit(255);
		}
		send_raw(buf, n, -1);
		return;
	case FK_OVERSIZE: {
		/* a valid reply, then unknown field 15 (length-delimited) as
		 * padding up to 100000 bytes: only the size is wrong */
		size_t pad;

		n = encode(resp, big, sizeof(big));
		pad = sizeof(big) - n - 4;
		big[n++] = 15 << 3 | 2;
		big[n++] = (uint8_t)(pad | 0x80);
		big[n++] = (uint8_t)(pad >> 7 | 0x80);
		big[n++] = (uint8_t)(pad >> 14);
		memset(big + n, 'x', pad);
		send_raw(big, sizeof(big), -1);
		return;
	}
	case FK_WRONGTYPE:
		resp->type = resp->type == T(DUMP) ? T(RESTORE) : T(DUMP);
		break;
	case FK_FD: {
		int p[2];
		struct stat st;

		n = encode(resp, buf, sizeof(buf));
		if (pipe(p) || fstat(p[0], &st)) {
			say("pipe: %s", strerror(errno));
			exit(255);
		}
		send_raw(buf, n, p[0]);
		close(p[0]);
		close(p[1]);
		sent_ino = st.st_ino;
		sent_with = type_name(resp->type);
		return;
	}
	default:
		break;
	}
	n = encode(resp, buf, sizeof(buf));
	send_raw(buf, n, -1);
}

static void resp_init(criu_resp *resp, criu_req_type type, bool success)
{
	memset(resp, 0, sizeof(*resp));
	resp->type = type;
	resp->success = success;
}

__attribute__((format(printf, 3, 4))) static void resp_fail(criu_resp *resp, int err, const char *fmt, ...)
{
	va_list ap;

	resp->success = false;
	if (err)
		resp->has_cr_errno = true, resp->cr_errno = err;
	resp->has_cr_errmsg = true;
	va_start(ap, fmt);
	vsnprintf(resp->cr_errmsg, sizeof(resp->cr_errmsg), fmt, ap);
	va_end(ap);
}

static bool fault_now(void);

/*
 * A NOTIFY round trip: send script (with pid if > 0) and read cr's ack.
 * True when cr answered NOTIFY with notify_success=true; anything else,
 * EOF included, is a failed script, as in CRIU.
 */
static bool notify(const char *script, int pid)
{
	static criu_resp n;
	static criu_req ack;

	resp_init(&n, T(NOTIFY), true);
	n.has_notify = true;
	n.notify.has_script = true;
	snprintf(n.notify.script, sizeof(n.notify.script), "%s", script);
	if (pid > 0)
		n.notify.has_pid = true, n.notify.pid = pid;
	send_resp(&n, FK_OK);
	if (!recv_req(&ack))
		return false;
	if (!cfg.fired && !strcmp(cfg.script, script)) {
		/* MODE@script: the fault strikes once cr has acked it */
		cfg.fired = true;
		if (!fault_now())
			return false;
		spoil_next = true;
	}
	return ack.type == T(NOTIFY) && ack.has_notify_success && ack.notify_success;
}

/* flood-noack: NOTIFYs as fast as the socket takes them, no acks read. */
static void flood_noack(void)
{
	static criu_resp n;
	uint8_t buf[criu_resp_size];
	size_t len;

	resp_init(&n, T(NOTIFY), true);
	n.has_notify = true;
	n.notify.has_script = true;
	snprintf(n.notify.script, sizeof(n.notify.script), "pre-dump");
	len = encode(&n, buf, sizeof(buf));
	for (int i = 0; i < 1000; i++) {
		struct pollfd p = { sk, POLLOUT, 0 };

		while (send(sk, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN || poll(&p, 1, 5000) <= 0 || (p.revents & (POLLERR | POLLHUP)))
				return;
		}
	}
}

/*
 * The faults that act at once rather than on a reply: exit, crash, hang
 * (never return); flood-noack, flood-hang (never return); flood (false if
 * cr failed one of its acks). The others return true and do nothing here.
 */
static bool fault_now(void)
{
	struct rlimit no_core = { 0, 0 };

	switch (cfg.f) {
	case FK_EXIT:
		exit(0);
	case FK_CRASH:
		setrlimit(RLIMIT_CORE, &no_core);
		signal(SIGSEGV, SIG_DFL);
		raise(SIGSEGV);
		exit(255);
	case FK_FLOOD_NOACK:
		flood_noack();
		exit(0);
	case FK_FLOOD_HANG:
		flood_noack();
		/* fall through */
	case FK_HANG:
		alarm(300);	/* a safety net for a cr that never kills us */
		for (;;)
			pause();
	case FK_FLOOD:
		for (int i = 0; i < 10000; i++)
			if (!notify("pre-dump", 0))
				return false;
		return true;
	default:
		return true;
	}
}

/*
 * The images and work directories: numbers in cr's fd table, opened through
 * /proc/<peer>/fd as CRIU does (criu-rpc.md 1.4). -1 and the reply filled
 * in with EBADRQC when that fails.
 */
static int open_dirs(const criu_req *req, criu_resp *resp, int *wd)
{
	char path[64];
	int img;

	*wd = -1;
	if (!req->has_opts || req->opts.images_dir_fd < 0) {
		resp_fail(resp, 56, "Error (criu/cr-service.c:1): fake-criu: no images_dir_fd in the request\n");
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)peer, req->opts.images_dir_fd);
	img = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (img < 0) {
		resp_fail(resp, 56, "Error (criu/cr-service.c:1): Can't open dir %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!req->opts.has_work_dir_fd) {
		*wd = dup(img);
		return img;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)peer, req->opts.work_dir_fd);
	*wd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*wd < 0) {
		resp_fail(resp, 56, "Error (criu/cr-service.c:1): Can't chdir to %s: %s\n", path, strerror(errno));
		close(img);
		return -1;
	}
	return img;
}

/* Write CRIU's log (opts.log_file, default criu.log) in the work dir. A
 * log_file with '/' is refused as CRIU refuses it. */
static int write_log(const criu_req *req, int wd, criu_resp *resp, const char *text)
{
	const char *name = req->opts.has_log_file ? req->opts.log_file : "criu.log";
	char head[128];
	int fd;

	if (strchr(name, '/')) {
		resp_fail(resp, 56, "Error (criu/cr-service.c:1): log_file must be a bare file name: %s\n", name);
		return -1;
	}
	if (!strcmp(name, "-"))
		fd = dup(1);
	else
		fd = openat(wd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		resp_fail(resp, 56, "Error (criu/log.c:1): Can't create log file %s: %s\n", name, strerror(errno));
		return -1;
	}
	snprintf(head, sizeof(head), "(00.000000) Version: %d.%d.%d (fake-criu, NOT CRIU: fault injection only)\n",
		 cfg.major, cfg.minor, cfg.sublevel < 0 ? 0 : cfg.sublevel);
	/* msg=TEXT: the failure says TEXT */
	const char *f = strstr(text, "fake failure");
	size_t pre = f ? (size_t)(f - text) : strlen(text);

	if (write(fd, head, strlen(head)) < 0 || write(fd, text, pre) < 0 ||
	    (f && (write(fd, cfg.msg, strlen(cfg.msg)) < 0 || write(fd, f + 12, strlen(f + 12)) < 0)))
		say("write %s: %s", name, strerror(errno));
	close(fd);
	return 0;
}

/* The restored "tree": a process that sleeps, then exits. With
 * rst_sibling it is cr's child (CLONE_PARENT), as CRIU makes it. */
static pid_t spawn_root(bool sibling)
{
	pid_t pid = sibling ? (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0) : fork();
	struct timespec ts = { (time_t)cfg.child_secs, 0 };
	int null;

	if (pid != 0)
		return pid;
	setsid();
	null = open("/dev/null", O_RDWR);
	for (int fd = 0; fd < 3; fd++)
		dup2(null, fd);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	prctl(PR_SET_NAME, "fake-restored");
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	_exit(cfg.child_status);
}

static void do_dump(const criu_req *req, criu_resp *resp, bool fail_on_purpose)
{
	bool pre = req->type == T(PRE_DUMP) || req->type == T(SINGLE_PRE_DUMP);
	int pid = req->opts.has_pid ? req->opts.pid : (int)peer;
	int wd, img = open_dirs(req, resp, &wd), fd;

	if (img < 0)
		return;
	if (fail_on_purpose) {
		if (!write_log(req, wd, resp, "(00.000001) Error (criu/cr-dump.c:1): fake failure\n"
					      "(00.000002) Dumping FAILED.\n"))
			resp_fail(resp, 3, "Error (criu/cr-dump.c:1): fake failure\n");
		goto out;
	}
	if (kill(pid, 0) && errno == ESRCH) {
		write_log(req, wd, resp, "(00.000001) Error (criu/seize.c:1): fake-criu: no such process\n");
		resp_fail(resp, 3, "Error (criu/seize.c:1): fake-criu: no process %d to dump\n", pid);
		goto out;
	}
	if (!pre && req->opts.notify_scripts) {
		if (!notify("pre-dump", 0)) {
			resp_fail(resp, 0, "Error (criu/cr-dump.c:1): pre-dump script failed\n");
			goto out;
		}
		if (ver_at_least(3, 19) && !notify("query-ext-files", 0)) {
			resp_fail(resp, 0, "Error (criu/cr-dump.c:1): query-ext-files script failed\n");
			goto out;
		}
	}
	/* CRIU writes an inventory for pre-dumps too (cr_pre_dump_finish) */
	fd = openat(img, "inventory.img", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "fake-criu\n", 10) != 10) {
		resp_fail(resp, 0, "Error (criu/image.c:1): can't write inventory.img: %s\n", strerror(errno));
		goto out;
	}
	close(fd);
	if (!pre && req->opts.notify_scripts && !notify("post-dump", 0)) {
		/* CRIU: the dump failed, the tasks are resumed, images stay */
		resp_fail(resp, 0, "Error (criu/cr-dump.c:1): post-dump script failed\n");
		goto out;
	}
	/* a lazy dump's page server says it listens, as CRIU does */
	if (!pre && req->opts.has_lazy_pages && req->opts.lazy_pages && req->opts.notify_scripts &&
	    !notify("status-ready", 0)) {
		resp_fail(resp, 0, "Error (criu/uffd.c:1): status-ready script failed\n");
		goto out;
	}
	if (write_log(req, wd, resp, pre ? "(00.000001) Pre-dumping finished successfully\n" :
					   "(00.000001) Dumping finished successfully\n"))
		goto out;
	if (!pre) {
		resp->has_dump = true;
		resp->dump.has_restored = true;
		resp->dump.restored = false;
	}
	resp->success = true;
out:
	close(img);
	close(wd);
}

static void do_restore(const criu_req *req, criu_resp *resp, bool fail_on_purpose)
{
	bool sibling = req->opts.has_rst_sibling && req->opts.rst_sibling, scripts = req->opts.notify_scripts;
	int wd, img = open_dirs(req, resp, &wd);
	pid_t pid;

	if (img < 0)
		return;
	if (fail_on_purpose) {
		if (!write_log(req, wd, resp, "(00.000001) Error (criu/cr-restore.c:1): fake failure\n"
					      "(00.000002) Restoring FAILED.\n"))
			resp_fail(resp, 17, "Error (criu/cr-restore.c:1): fake failure\n");
		goto out;
	}
	if (scripts && !notify("pre-restore", 0)) {
		resp_fail(resp, 0, "Error (criu/cr-restore.c:1): pre-restore script failed\n");
		goto out;
	}
	pid = spawn_root(sibling);
	if (pid < 0) {
		resp_fail(resp, 0, "Error (criu/cr-restore.c:1): fork: %s\n", strerror(errno));
		goto out;
	}
	if (scripts && !notify("post-restore", pid)) {
		/* CRIU: the restore is aborted and the restored tasks killed */
		kill(pid, SIGKILL);
		if (!sibling)
			waitpid(pid, NULL, 0);
		resp_fail(resp, 0, "Error (criu/cr-restore.c:1): post-restore script failed\n");
		goto out;
	}
	/* failures from here on are only logged, as in CRIU */
	if (scripts)
		notify("pre-resume", 0);
	if (scripts)
		notify("post-resume", 0);
	if (write_log(req, wd, resp, "(00.000001) Restore finished successfully. Tasks resumed.\n"))
		goto out;
	resp->success = true;
	resp->has_restore = true;
	resp->restore.pid = pid;
out:
	close(img);
	close(wd);
}

static void do_check(const criu_req *req, criu_resp *resp, bool fail_on_purpose)
{
	int wd = -1, img = -1;

	if (req->has_opts && req->opts.images_dir_fd >= 0 && (img = open_dirs(req, resp, &wd)) < 0)
		return;
	if (fail_on_purpose) {
		if (img < 0 || !write_log(req, wd, resp, "(00.000001) Error (criu/cr-check.c:1): fake failure\n"))
			resp_fail(resp, 0, "Error (criu/cr-check.c:1): fake failure\n");
	} else if (img < 0 || !write_log(req, wd, resp, "(00.000001) Looks good.\n")) {
		printf("Looks good.\n");
		fflush(stdout);
		resp->success = true;
	}
	if (img >= 0)
		close(img), close(wd);
}

static void handle(const criu_req *req, criu_resp *resp, bool fail_on_purpose)
{
	resp_init(resp, req->type, false);
	switch (req->type) {
	case T(VERSION):
		resp->success = true;
		resp->has_version = true;
		resp->version.major_number = cfg.major;
		resp->version.minor_number = cfg.minor;
		if (cfg.sublevel >= 0)
			resp->version.has_sublevel = true, resp->version.sublevel = cfg.sublevel;
		break;
	case T(FEATURE_CHECK):
		/* CRIU's child crashes on a missing submessage: success=false */
		if (!req->has_features)
			break;
		if (fail_on_purpose) {	/* its kernel probe failed: stderr only */
			fprintf(stderr, "%s%s\n", strncmp(cfg.msg, "Error (", 7) ? "Error (criu/kerndat.c:1): " : "", cfg.msg);
			fflush(stderr);
			break;
		}
		resp->success = true;
		resp->has_features = true;
		resp->features.has_mem_track = resp->features.has_lazy_pages = resp->features.has_pidfd_store = true;
		resp->features.mem_track = cfg.mem_track && req->features.has_mem_track && req->features.mem_track;
		resp->features.lazy_pages = !cfg.no_uffd && req->features.has_lazy_pages && req->features.lazy_pages;
		resp->features.pidfd_store = req->features.has_pidfd_store && req->features.pidfd_store;
		break;
	case T(CHECK):
		do_check(req, resp, fail_on_purpose);
		break;
	case T(DUMP):
	case T(PRE_DUMP):
	case T(SINGLE_PRE_DUMP):
		do_dump(req, resp, fail_on_purpose);
		break;
	case T(RESTORE):
		do_restore(req, resp, fail_on_purpose);
		break;
	default:
		/* unknown types: CRIU's "Invalid req"; the rest cr never sends */
		resp->type = T(EMPTY);
		resp_fail(resp, 0, "Error (fake-criu): %s is not implemented by the fake\n", type_name(req->type));
		break;
	}
}

static bool keep_open_allowed(criu_req_type t)
{
	return t == T(PAGE_SERVER) || t == T(PAGE_SERVER_CHLD) || t == T(CPUINFO_DUMP) || t == T(CPUINFO_CHECK) ||
	       t == T(FEATURE_CHECK) || t == T(VERSION);
}

int main(int argc, char **argv)
{
	static criu_req req;
	static criu_resp resp;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char *end;
	long fd;

	if (argc != 3 || strcmp(argv[1], "swrk")) {
		fprintf(stderr, "Usage: criu swrk <fd>\n(this is fake-criu, a FAKE criu for cr's fault-injection tests)\n");
		return 1;
	}
	fd = strtol(argv[2], &end, 10);
	if (*end || fd < 0 || fd > 1 << 20) {
		fprintf(stderr, "Usage: criu swrk <fd>\n");
		return 1;
	}
	sk = (int)fd;
	parse_env();
	signal(SIGPIPE, SIG_IGN);
	if (getsockopt(sk, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		say("swrk fd %d: %s", sk, strerror(errno));
		return 255;
	}
	peer = cred.pid;
	fcntl(sk, F_SETFD, FD_CLOEXEC);

	while (recv_req(&req)) {
		record(&req);
		unsigned bit = (unsigned)req.type < 32 ? BIT(req.type) : 0;
		bool fire = !cfg.fired && cfg.f != FK_OK && ((cfg.when & bit) ? !cfg.negate : cfg.negate);

		if (req.has_keep_open && req.keep_open && !keep_open_allowed(req.type)) {
			say("keep_open on a %s request: CRIU closes the connection without a reply", type_name(req.type));
			return 255;
		}
		cfg.fired |= fire;
		if (fire && !fault_now()) {
			resp_init(&resp, req.type, false);
			resp_fail(&resp, 0, "Error (fake-criu): a notification of the flood was not acknowledged\n");
			send_resp(&resp, FK_OK);
			return 0;
		}
		handle(&req, &resp, fire && cfg.f == FK_LOG);
		send_resp(&resp, fire ? cfg.f : FK_OK);
		if (!(req.has_keep_open && req.keep_open) && !(req.type == T(PRE_DUMP) && resp.success))
			return 0;
	}
	return 0;
}
