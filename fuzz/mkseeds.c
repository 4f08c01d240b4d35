/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed corpora under DIR (fuzz/corpus): real criu_resp messages
 * and stats files encoded with the nanopb code cr is built from, migration
 * streams, a --listen connection's first bytes, and small ini files.
 * fuzz/run.sh builds it as fuzz/bin/mkseeds; regenerate with:
 * fuzz/bin/mkseeds fuzz/corpus
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pb_encode.h"
#include "rpc.pb.h"

static const char *top;

static void put(const char *sub, const char *name, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	if (mkdir(top, 0755) && errno != EEXIST) {
		perror(top);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", top, sub);
	if (mkdir(path, 0755) && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", top, sub, name);
	if (!(f = fopen(path, "wb")) || fwrite(buf, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void resp(const char *name, const criu_resp *r)
{
	uint8_t buf[criu_resp_size];
	pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));

	if (!pb_encode(&os, criu_resp_fields, r)) {
		fprintf(stderr, "%s: %s\n", name, PB_GET_ERROR(&os));
		exit(1);
	}
	put("rpc", name, buf, os.bytes_written);
}

static void stats(const char *name, uint32_t magic, const stats_entry *e)
{
	uint8_t buf[12 + stats_entry_size];
	pb_ostream_t os = pb_ostream_from_buffer(buf + 12, sizeof(buf) - 12);
	uint32_t h[3];

	if (!pb_encode(&os, stats_entry_fields, e)) {
		fprintf(stderr, "%s: %s\n", name, PB_GET_ERROR(&os));
		exit(1);
	}
	h[0] = htole32(magic), h[1] = htole32(0x57093306), h[2] = htole32((uint32_t)os.bytes_written);
	memcpy(buf, h, sizeof(h));
	put("stats", name, buf, 12 + os.bytes_written);
}

/* Migration frames, appended to one stream. */
static uint8_t mbuf[4096];
static size_t mlen;

static void frame(unsigned type, const void *a, size_t alen, const void *b, size_t blen)
{
	uint32_t h[2] = { htole32(type), htole32((uint32_t)(alen + blen)) };

	if (mlen + sizeof(h) + alen + blen > sizeof(mbuf))
		exit(1);
	memcpy(mbuf + mlen, h, sizeof(h));
	memcpy(mbuf + mlen + sizeof(h), a, alen);
	memcpy(mbuf + mlen + sizeof(h) + alen, b, blen);
	mlen += sizeof(h) + alen + blen;
}

static void framef(unsigned type, const char *s)
{
	frame(type, s, strlen(s), NULL, 0);
}

static void mig(const char *name)
{
	put("mig", name, mbuf, mlen);
	mlen = 0;
}

static void ini(const char *name, const char *text)
{
	put("ini", name, text, strlen(text));
}

enum { HELLO = 1, READY, PS, PSREADY, PSEND, PSDONE, FILE_, DONE, RESULT, COMMIT, RESUMED, END, ERROR, PAGES, BUSY };

/* hello (fuzz/fz_hello.c): the first bytes of a --listen connection, after
 * the harness's steering byte (bits 0-3: the step between prefixes; bit 7:
 * a small why buffer, bits 4-6 its size). HELLO_MAX: cr's MIG_HELLO_MAX,
 * MAX_CG_PIDS * 8 + 512. */
#define HELLO_MAX (4096 * 8 + 512)

static void hello(const char *name, unsigned steer, unsigned type, uint32_t len, const void *p, size_t n)
{
	uint8_t buf[1 + 8 + 256];
	uint32_t h[2] = { htole32(type), htole32(len) };

	if (n > sizeof(buf) - 9)
		exit(1);
	buf[0] = (uint8_t)steer;
	memcpy(buf + 1, h, sizeof(h));
	memcpy(buf + 9, p, n);
	put("hello", name, buf, 9 + n);
}

static void hellos(const char *name, unsigned steer, const char *s)
{
	hello(name, steer, HELLO, (uint32_t)strlen(s), s, strlen(s));
}

int main(int argc, char **argv)
{
	static const char nul[] = "cr-migrate 2 \0token=s3cret-token",
			  junk[] = "\x13\x37\xc0\xde\x00\xff random-looking bytes \x01\x02";
	criu_resp r;
	stats_entry e;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	top = argv[1];

	/* rpc: CRIU's answers and notifications */
	r = (criu_resp)criu_resp_init_zero;
	r.type = criu_req_type_VERSION, r.success = true, r.has_version = true;
	r.version.major_number = 3, r.version.minor_number = 19;
	r.version.has_gitid = true, strcpy(r.version.gitid, "v3.19");
	r.version.has_sublevel = true, r.version.sublevel = 1;
	r.version.has_name = true, strcpy(r.version.name, "Bronze Peacock");
	resp("version", &r);
	r = (criu_resp)criu_resp_init_zero;
	r.type = criu_req_type_FEATURE_CHECK, r.success = true, r.has_features = true;
	r.features = (criu_features){ true, true, true, false, true, true };
	resp("features", &r);
	r = (criu_resp)criu_resp_init_zero;
	r.type = criu_req_type_NOTIFY, r.success = true, r.has_notify = true;
	r.notify.has_script = true, strcpy(r.notify.script, "post-dump");
	resp("notify-post-dump", &r);
	r.notify.has_pid = true, r.notify.pid = 4242, strcpy(r.notify.script, "post-restore");
	resp("notify-post-restore", &r);
	r = (criu_resp)criu_resp_init_zero;
	r.type = criu_req_type_DUMP, r.success = true, r.has_dump = true;
	r.dump.has_restored = true;
	r.has_cr_errmsg = true, strcpy(r.cr_errmsg, "Error (criu/kerndat.c:1): RLIMIT_NOFILE is too low\n");
	resp("dump", &r);
	r = (criu_resp)criu_resp_init_zero;
	r.type = criu_req_type_RESTORE, r.success = true, r.has_restore = true, r.restore.pid = 4242;
	resp("restore", &r);
	r = (criu_resp)criu_resp_init_zero;
	r.type = criu_req_type_DUMP, r.success = false, r.has_cr_errno = true, r.cr_errno = 3;
	r.has_cr_errmsg = true, strcpy(r.cr_errmsg, "Error (criu/cr-dump.c:2099): Dumping FAILED.\n\n");
	resp("dump-error", &r);
	r = (criu_resp)criu_resp_init_zero;
	r.type = criu_req_type_EMPTY, r.success = false, r.has_cr_errmsg = true;
	strcpy(r.cr_errmsg, "Error (criu/cr-service.c:1): Unknown request type\n");
	resp("empty-error", &r);
	r = (criu_resp)criu_resp_init_zero;
	r.type = criu_req_type_PAGE_SERVER, r.success = true, r.has_ps = true;
	r.ps.has_port = true, r.ps.port = 27000, r.ps.has_pid = true, r.ps.pid = 77;
	r.ps.has_address = true, strcpy(r.ps.address, "0.0.0.0");
	r.has_status = true, r.status = 0;
	resp("page-server", &r);

	/* stats: stats-dump (service magic), stats-restore (common magic) */
	e = (stats_entry)stats_entry_init_zero;
	e.has_dump = true;
	e.dump = (dump_stats_entry){ .freezing_time = 1234, .frozen_time = 56789, .memdump_time = 4000,
				     .memwrite_time = 3000, .pages_scanned = 2048, .pages_skipped_parent = 12,
				     .pages_written = 2000, .has_irmap_resolve = true, .irmap_resolve = 5,
				     .pages_lazy = 0, .has_page_pipes = true, .page_pipes = 3 };
	stats("stats-dump", 0x55105940, &e);
	e.dump.freezing_time = 0, e.dump.pages_scanned = 0, e.dump.pages_lazy = 2000;	/* a lazy dump */
	stats("stats-dump-lazy", 0x55105940, &e);
	e = (stats_entry)stats_entry_init_zero;
	e.has_restore = true;
	e.restore = (restore_stats_entry){ .pages_compared = 10, .pages_skipped_cow = 1, .forking_time = 800,
					   .restore_time = 52000, .has_pages_restored = true, .pages_restored = 2000 };
	stats("stats-restore", 0x54564319, &e);

	/* mig: what a receiver reads (and a sender's view of the replies) */
	framef(HELLO, "cr-migrate 2 criu=31900 pid=4242 pids=4242,4243,4250 token=s3cret-token");
	mig("hello");
	framef(HELLO, "cr-migrate 2 criu=31900 pid=1 pids=- token=-");
	framef(PS, "dir=pre-1 parent=-");
	frame(PSEND, "", 0, NULL, 0);
	framef(PS, "dir=img parent=pre-1");
	frame(FILE_, "inventory.img", 14, "\x59\x40\x10\x55" "abcd", 8);
	frame(FILE_, "inventory.img", 14, "more", 4);
	frame(FILE_, "pages-1.img", 12, "", 0);
	framef(DONE, "files=2 bytes=12 lazy=0 parent=pre-1 opts=tcp-established,file-locks,- cgmode=soft");
	frame(COMMIT, "", 0, NULL, 0);
	mig("receive");
	frame(FILE_, "inventory.img", 14, "x", 1);
	framef(DONE, "files=1 bytes=1 lazy=1 parent=- opts=- cgmode=ignore");
	mig("files");
	framef(READY, "criu=31900 lazy=1");
	framef(PSREADY, "");
	framef(PSDONE, "status=0");
	framef(RESULT, "pid=4242 restore_ms=31");
	framef(RESUMED, "pid=4242");
	framef(END, "status=0");
	mig("replies");
	framef(ERROR, "the target's image directory /var/lib/cr is not an empty directory");
	mig("error");

	/* hello: what receive --listen reads before the token (the harness's
	 * token is s3cret-token) */
	hellos("good", 0x00, "cr-migrate 2 criu=40201 pid=4242 mib=64 pids=4242,4243 token=s3cret-token");
	hellos("good-step7", 0x06, "cr-migrate 2 criu=40201 pid=4242 mib=64 pids=4242,4243 token=s3cret-token");
	hellos("wrong-token", 0x96, "cr-migrate 2 criu=40201 pid=4242 mib=64 pids=4242 token=s3cret-tokeN");
	hellos("token-longer", 0x01, "cr-migrate 2 criu=40201 pid=4242 token=s3cret-token2");
	hellos("token-shorter", 0x01, "cr-migrate 2 criu=40201 pid=4242 token=s3cret");
	hellos("token-first-wins", 0x00, "cr-migrate 2 xtoken=s3cret-token token=nope token=s3cret-token");
	hellos("no-token", 0x02, "cr-migrate 2 criu=40201 pid=4242 mib=64");
	hellos("old-protocol", 0xa0, "cr-migrate 1 criu=31900 pid=4242 pids=4242 token=s3cret-token");
	hello("nul-in-payload", 0x00, HELLO, sizeof(nul) - 1, nul, sizeof(nul) - 1);
	hello("empty", 0x00, HELLO, 0, "", 0);
	hello("truncated", 0x00, HELLO, 100, "cr-migrate", 10);
	hello("oversized", 0x00, HELLO, 0x7fffffff, "cr-migrate 2 ", 13);
	hello("just-over", 0x05, HELLO, HELLO_MAX + 1, "cr-migrate 2 ", 13);
	hello("at-limit", 0x0f, HELLO, HELLO_MAX, "cr-migrate 2 criu=1 token=s3cret-token", 38);
	hello("busy", 0x00, BUSY, 0, "", 0);
	hello("garbage", 0x83, 0x9a3c5e71, 0x11f2e3d4, junk, sizeof(junk) - 1);

	/* ini: small files (run.sh adds cr.ini.example) */
	ini("all-sections.ini",
	    "[criu]\nbinary = /usr/sbin/criu\nlog-level = 4\nverbose = yes\n"
	    "[cgroup]\npath = /sys/fs/cgroup/app\nfreeze = on\nremove = off\ncontrollers = freezer,memory\n"
	    "[hooks]\npost-dump = logger done\npre-restore = true\ntimeout = 30\n"
	    "[checkpoint]\nimage-path = /var/lib/cr/img\nleave-running = 1\nnetwork-lock = nftables\n"
	    "external = mnt[/data]:data\nexternal = net[4026531992]:extnet\nstatus-fd = 3\n"
	    "[pre-dump]\nparent-path = ../base\nauto-dedup = true\n"
	    "[restore]\nroot = /\ninherit-fd = fd[3]:pipe:[123]\ndetach = true\npid-file = /run/app.pid\n"
	    "[page-server]\naddress = 127.0.0.1\nport = 27000\n"
	    "[migrate]\nmode = pre-copy+post-copy\nto = 192.0.2.2:4444\nmax-iterations = 4\ntoken-file = /etc/cr.token\n");
	ini("restore.ini", "; a comment\n\n[restore]\nwait = true\ntimeout = 600\nmanage-cgroups-mode = soft\n");
	ini("bad-key.ini", "[checkpoint]\nno-such-key = 1\n");
	ini("bad-value.ini", "[criu]\nlog-level = 9\n");
	ini("outside.ini", "image-path = /x\n[criu]\n");
	ini("unknown-section.ini", "[nope]\n");
	return 0;
}
