/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: whole ini files through cfg_load_ini (cr's checks,
 * inih, cfg_ini_handler, cfg_set). The input is written to a private file
 * (0600, owned by the running user, as cr demands when run as root) and
 * loaded once for each command (which sections apply, which are only
 * checked). An exit(2) from cfg_load_ini is a rejected file, which is
 * expected; after a load every value in cfg must be one cfg_set accepts.
 */
#include "fz.h"

static char fz_dir[] = "/tmp/cr-fuzz-ini.XXXXXX";
static char fz_file[sizeof(fz_dir) + 16];

static void fz_cleanup(void)
{
	unlink(fz_file);
	rmdir(fz_dir);
}

/* cfg_set's promise ("nothing later has to wonder about control characters
 * or lengths"): every value a loaded file left in cfg is checked. */
static void fz_check_str(enum opt_id id, const char *s)
{
	const char *choices = opt_f(id, F_CHOICES);

	if (!s || strlen(s) > MAX_VALUE)
		abort();
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
	if (opts[id].type == T_STR && *choices && *s && !in_choices(s, choices))
		abort();
}

static void fz_check(void)
{
#define FZ_CHK_T_STR(f) fz_check_str(O_##f, cfg.f);
#define FZ_CHK_T_BOOL(f)
#define FZ_CHK_T_UINT(f) \
	if (cfg.f > scan_num(opt_f(O_##f, F_CHOICES), 10)) \
		abort();
#define FZ_CHK_T_LIST(f) \
	if (cfg.f.n < 0 || cfg.f.n > MAX_LIST) \
		abort(); \
	for (int i = 0; i < cfg.f.n; i++) \
		fz_check_str(O_##f, cfg.f.v[i]);
#define X(f, l, s, t, c, sec, key, def, ch, meta, help) FZ_CHK_##t(f)
	CR_OPTIONS(X)
#undef X
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_quiet_stdout();
	if (!mkdtemp(fz_dir))
		abort();
	snprintf(fz_file, sizeof(fz_file), "%s/cr.ini", fz_dir);
	atexit(fz_cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned cmds[] = { C_DUMP, C_PRE, C_RST, C_MIG, C_RCV, C_PS, C_CHK, C_STATS };
	static const char *const names[] = { "checkpoint", "pre-dump", "restore", "migrate", "receive",
					     "page-server", "check", "stats" };
	int fd = open(fz_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write_all(fd, data, size) || close(fd))
		abort();
	for (size_t c = 0; c < ARRAY_LEN(cmds); c++) {
		memset(&cfg, 0, sizeof(cfg));
		cfg_defaults();
		str_used = 0;
		cfg.ps_fd = -1;
		cfg.cmd = cmds[c];
		cfg.cmd_name = names[c];
		fz_status = -1;
		fz_armed = 1;
		if (!setjmp(fz_jmp)) {
			cfg_load_ini(fz_file, true);
			fz_check();
			for (const char *e = hook_events; *e; e += strlen(e) + 1)
				(void)hook_find(e);
		}
		fz_armed = 0;
		if (fz_status == EXIT_OK)	/* exit(0): cfg_load_ini has none */
			abort();
	}
	return 0;
}
