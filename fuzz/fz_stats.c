/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: CRIU's stats files (stats_decode), then both ways cr
 * prints an entry (stats_print: the table and --json). stats_read reads at
 * most 4096 bytes into a 4096-byte buffer and passes len == size for "at
 * least that much", so inputs are cut at 4096 and size is 4096; the bytes
 * sit at the end of their heap block so ASan sees any read past len.
 */
#include "fz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_init(C_STATS, "stats");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static stats_entry e;
	size_t len = size > 4096 ? 4096 : size;
	uint8_t *buf = fz_dup(data, len);

	fz_armed = 1;
	if (!setjmp(fz_jmp) && stats_decode(buf, len, 4096, "fuzz-dir", "stats-dump", &e) == 0) {
		/* cr stats (wall 0: the table goes to stdout), then cmd_dump's and
		 * cmd_restore's calls (a wall time: the table goes to stderr) */
		for (int json = 0; json < 2; json++) {
			cfg.json = json;
			stats_print(e.has_dump ? "dump" : "restore", 0, 0, &e, false);
			stats_print("checkpoint", 4242, 123456789, &e, json);
		}
		cfg.json = false;
	}
	fz_armed = 0;
	free(buf);
	return 0;
}
