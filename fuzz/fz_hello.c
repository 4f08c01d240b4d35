/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the pre-authentication reader of receive --listen,
 * mig_hello_check, fed the input as a connection would deliver it. The
 * input's first byte steers (the step between prefixes, the size of the
 * why buffer); the rest is the byte stream, at most a HELLO and its header
 * (what the caller's buffer holds). mig_hello_check sees growing prefixes
 * of it: every length up to 16, then every STEP bytes up to 600, then
 * growing by a quarter, and always the lengths around the header's end and
 * around the frame's end.
 *
 * Each prefix is copied twice: into a fresh heap block of exactly its
 * length (a read past what arrived hits ASan's redzone), and to the start of
 * a block as big as the caller's (HELLO limit + 8 + 1) whose rest is a
 * pattern (its aligned part poisoned): the two answers must agree, and
 * nothing may be written to either. The promises checked:
 *   - the answer is 1, 0, -1 or -2;
 *   - 0 while, and only while, the frame is incomplete: under 8 bytes (a
 *     type other than HELLO may be -1 from 4), or a HELLO header within the
 *     limit and fewer than 8 + its length bytes; a header of another type,
 *     or a length over the limit, is -1 at once;
 *   - once an answer is not 0, every longer prefix gets the same one;
 *   - 1: a whole HELLO whose payload starts "cr-migrate 2 " and whose first
 *     token= field is exactly the token; -2: a HELLO of "cr-migrate 2 "
 *     whose token is not (decided early only if it cannot become right);
 *     -1 on a whole frame: not a HELLO of cr-migrate 2;
 *   - for -1 and -2, why is a non-empty string ending within its size (a
 *     heap block of exactly that size) that does not show the token.
 */
#include "fz.h"

#include <sanitizer/asan_interface.h>

#define FZ_TOKEN "s3cret-token"
#define FZ_ROOM (MIG_HELLO_MAX + 8 + 1)	/* the caller's buffer */
#define FZ_FILL 0xa5

static uint8_t *room;	/* the caller's buffer: see fz_call */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_init(C_RCV, "receive");
	if (!(room = malloc(FZ_ROOM)))
		abort();
	return 0;
}

static uint32_t fz_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * What a whole HELLO payload (len bytes, a C string up to its first NUL as
 * cr reads it) deserves: 1 (cr-migrate 2, the token), -2 (cr-migrate 2,
 * another token or none) or -1. The token field: the first "token=" at the
 * start or after a blank, its value up to the next blank.
 */
static int fz_verdict(const uint8_t *pl, size_t len)
{
	size_t n = strnlen((const char *)pl, len), k = strlen(FZ_TOKEN);

	if (n < 13 || memcmp(pl, "cr-migrate 2 ", 13))
		return -1;
	for (size_t i = 0; i + 6 <= n; i++) {
		if (memcmp(pl + i, "token=", 6) || (i && pl[i - 1] != ' '))
			continue;
		size_t v = i + 6, e = v;

		while (e < n && pl[e] != ' ')
			e++;
		return e - v == k && !memcmp(pl + v, FZ_TOKEN, k) ? 1 : -2;
	}
	return -2;
}

/*
 * One call on the first have bytes of s, twice: from a heap block of exactly
 * have bytes, and from room (the caller's size, FZ_FILL after the bytes
 * that came, its aligned part poisoned). room is the same block for every
 * prefix of an input, the prefixes in growing order: the bytes past have
 * that the call could write are checked here, the rest once at the end.
 */
static int fz_call(const uint8_t *s, size_t have, size_t whysize)
{
	char *exact = malloc(have), *why = malloc(whysize), *why2 = malloc(whysize);
	size_t pz = (have + 7) & ~(size_t)7;
	int r, r2;

	if (!exact || !why || !why2)
		abort();
	memcpy(exact, s, have);
	memcpy(room, s, have);
	memset(why, FZ_FILL, whysize);
	memset(why2, FZ_FILL, whysize);
	r = mig_hello_check(exact, have, FZ_TOKEN, why, whysize);
	if (pz < FZ_ROOM)
		ASAN_POISON_MEMORY_REGION(room + pz, FZ_ROOM - pz);
	r2 = mig_hello_check((const char *)room, have, FZ_TOKEN, why2, whysize);
	if (pz < FZ_ROOM)
		ASAN_UNPOISON_MEMORY_REGION(room + pz, FZ_ROOM - pz);
	if (r != r2)
		fz_fail("the answer depends on the bytes after those that came", NULL);
	if (memcmp(exact, s, have) || memcmp(room, s, have))
		fz_fail("mig_hello_check changed the bytes it was given", NULL);
	for (size_t i = have; i < FZ_ROOM && i < pz + 64; i++)
		if (room[i] != FZ_FILL)
			fz_fail("mig_hello_check wrote past the bytes it was given", NULL);
	if (r != 1 && r != 0 && r != -1 && r != -2)
		fz_fail("an answer other than 1, 0, -1 or -2", NULL);
	if (r < 0) {
		if (!memchr(why, '\0', whysize) || !memchr(why2, '\0', whysize))
			fz_fail("why does not end within its size", NULL);
		if (whysize > 1 && !why[0])
			fz_fail("a bad peer and an empty why", NULL);
		if (strstr(why, "s3cret"))
			fz_fail("why shows the token", why);
		if (strcmp(why, why2))
			fz_fail("why depends on the bytes after those that came", why);
	}
	free(exact);
	free(why);
	free(why2);
	return r;
}

/* Does the result r for the first have bytes of s (n bytes in all) keep the
 * promises above? */
static void fz_judge(const uint8_t *s, size_t have, int r)
{
	uint32_t type, len;
	size_t avail;
	char msg[160];

	if (have < 8) {	/* only a type that is not HELLO may be told early */
		if (r && !(r == -1 && have >= 4 && fz_le32(s) != MIG_HELLO))
			fz_fail("an answer before the header is whole", NULL);
		return;
	}
	type = fz_le32(s), len = fz_le32(s + 4);
	if (type != MIG_HELLO || len > MIG_HELLO_MAX) {
		if (r != -1) {
			snprintf(msg, sizeof(msg), "a header of type %u, %u bytes: %d, not -1", type, len, r);
			fz_fail(msg, NULL);
		}
		return;
	}
	avail = have - 8 < len ? have - 8 : len;
	if (have >= 8 + (size_t)len) {	/* the whole frame: the verdict */
		int v = fz_verdict(s + 8, len);

		if (r != v) {
			snprintf(msg, sizeof(msg), "a whole HELLO of %u bytes: %d, not %d", len, r, v);
			fz_fail(msg, NULL);
		}
		return;
	}
	/* incomplete: 0, or an early no that more bytes cannot turn into yes */
	if (r == 1)
		fz_fail("1 before the HELLO is whole", NULL);
	if (r == -1 && strnlen((const char *)s + 8, avail) >= 13 && !memcmp(s + 8, "cr-migrate 2 ", 13))
		fz_fail("-1 early for a HELLO of cr-migrate 2", NULL);
	if (r == -1 && len >= 13 && avail < 13 && strnlen((const char *)s + 8, avail) == avail &&
	    !memcmp(s + 8, "cr-migrate 2 ", avail))
		fz_fail("-1 early for what may still become cr-migrate 2", NULL);
	if (r == -2 && (avail < 13 || memcmp(s + 8, "cr-migrate 2 ", 13)))
		fz_fail("-2 early for a HELLO not yet known to be cr-migrate 2", NULL);
	if (r == -2) {	/* only if its token can no longer be right */
		const uint8_t *t = NULL;

		for (size_t i = 0; i + 6 <= avail && !t; i++)
			if (!memcmp(s + 8 + i, "token=", 6) && (!i || s[8 + i - 1] == ' ') && !memchr(s + 8, '\0', i))
				t = s + 8 + i + 6;
		if (!t && !memchr(s + 8, '\0', avail))
			fz_fail("-2 early before any token= came", NULL);
		if (!t)
			return;
		size_t got = (size_t)(s + 8 + avail - t), k = strlen(FZ_TOKEN);

		if (!memchr(t, ' ', got) && !memchr(t, '\0', got) && !memcmp(t, FZ_TOKEN, got < k ? got : k) && got <= k)
			fz_fail("-2 early for a token that may still come right", NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static size_t lens[4096];
	size_t n, nl = 0, step, whysize;
	const uint8_t *s;
	int first = 0;

	if (size < 2)
		return 0;
	step = 1 + (data[0] & 15);
	whysize = data[0] & 0x80 ? 1 + ((data[0] >> 4) & 7) * 7 : 160;	/* 1 .. 50, or mig_listen's */
	s = data + 1;
	n = size - 1 > MIG_HELLO_MAX + 8 ? MIG_HELLO_MAX + 8 : size - 1;

	for (size_t l = 1; l <= n && l <= 16; l++)
		lens[nl++] = l;
	for (size_t l = 16 + step; l <= n && l <= 600; l += step)
		lens[nl++] = l;
	for (size_t l = 600; l <= n; l += l / 4)
		lens[nl++] = l;
	lens[nl++] = n;
	if (n >= 8) {
		size_t end = 8 + (size_t)fz_le32(s + 4);

		for (size_t d = 0; d < 3; d++) {
			if (end + d - 1 >= 1 && end + d - 1 <= n)
				lens[nl++] = end + d - 1;
			if (20 + d <= n)
				lens[nl++] = 20 + d;
		}
	}
	/* sort (insertion: at most a few hundred) and walk them in order */
	for (size_t i = 1; i < nl; i++)
		for (size_t j = i; j > 0 && lens[j - 1] > lens[j]; j--) {
			size_t t = lens[j];

			lens[j] = lens[j - 1], lens[j - 1] = t;
		}
	memset(room, FZ_FILL, FZ_ROOM);
	for (size_t i = 0; i < nl; i++) {
		int r;

		if (i && lens[i] == lens[i - 1])
			continue;
		r = fz_call(s, lens[i], whysize);
		fz_judge(s, lens[i], r);
		if (first && r != first)
			fz_fail("a longer prefix changed the answer", NULL);
		if (r)
			first = r;
	}
	for (size_t i = n; i < FZ_ROOM; i++)
		if (room[i] != FZ_FILL)
			fz_fail("mig_hello_check wrote past the bytes it was given", NULL);
	return 0;
}
