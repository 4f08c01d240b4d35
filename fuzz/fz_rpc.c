/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: CRIU's replies. The input is one datagram; rpc_recv
 * hands rpc_decode at most 4096 bytes (a longer datagram is refused as
 * MSG_TRUNC), so longer inputs are cut there.
 *
 * 1. rpc_decode on the bytes, then what cr reads of a reply: the string
 *    fields (each must hold its NUL), rpc_type_name, the failure report.
 * 2. The same datagram as CRIU's answer to cr's VERSION request, through a
 *    SOCK_SEQPACKET socketpair: rpc_version -> rpc_call -> rpc_recv ->
 *    rpc_decode, a NOTIFY answered by rpc_notify (no hooks are set, so
 *    nothing runs), then the version arithmetic and cfg_check_version. The
 *    fake CRIU's end is shut for writing, so a second receive sees EOF.
 */
#include "fz.h"

/* A fixed-size string field must hold its NUL: cr strlen()s them, and an
 * over-read would stay inside criu_resp, where ASan cannot see it. */
#define FZ_STR(has, s) \
	do { \
		if ((has) && !memchr((s), '\0', sizeof(s))) \
			abort(); \
		if ((has) && strlen(s) >= sizeof(s)) \
			abort(); \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_init(C_DUMP, "checkpoint");
	return 0;
}

static void fz_version(const uint8_t *buf, size_t n)
{
	struct rpc r = { .sk = -1, .sigfd = -1, .status_fd = -1 };
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		abort();
	if (send(sv[1], buf, n, MSG_NOSIGNAL) != (ssize_t)n || shutdown(sv[1], SHUT_WR))
		abort();
	r.sk = sv[0];
	r.criu = "fuzz";
	fz_armed = 1;
	if (!setjmp(fz_jmp))
		(void)rpc_version(&r);
	fz_armed = 0;
	close(sv[0]);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static criu_resp resp;
	size_t n = size > 4096 ? 4096 : size;
	uint8_t *buf = fz_dup(data, n);
	volatile size_t sink = 0;

	fz_armed = 1;
	if (!setjmp(fz_jmp) && rpc_decode(buf, n, &resp) == 1) {
		FZ_STR(resp.has_cr_errmsg, resp.cr_errmsg);
		FZ_STR(resp.has_notify && resp.notify.has_script, resp.notify.script);
		FZ_STR(resp.has_version && resp.version.has_gitid, resp.version.gitid);
		FZ_STR(resp.has_version && resp.version.has_name, resp.version.name);
		FZ_STR(resp.has_ps && resp.ps.has_address, resp.ps.address);
		sink += strlen(rpc_type_name(resp.type));
		/* rpc_call's message for an unexpected type, rpc_notify's script */
		sink += strlen(resp.has_notify && resp.notify.has_script ? resp.notify.script : "");
		sink += hook_event_known(resp.notify.script, strlen(resp.notify.script));
		/* the failure report: errno text, cr_errmsg minus the harmless
		 * line, "no log" (log_shown NULL: no file is opened) */
		if (!resp.success)
			rpc_report_failure("fuzz", resp.type, &resp, -1, NULL, NULL);
	}
	fz_armed = 0;
	fz_version(buf, n);
	(void)sink;
	free(buf);
	return 0;
}
