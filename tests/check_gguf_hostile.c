/* SPDX-License-Identifier: MIT */
/*
 * GGUF files built byte by byte: a small valid file, then hostile ones --
 * hand-made evil headers, every truncation, seeded random corruption. Each
 * must give a clear error naming its field and never read outside its
 * buffer: every file is opened from an exact-size heap copy and every
 * tensor byte of an accepted one is read, so ASan sees any over-read.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/model.h>

#include "harness.h"

/* ------------------------------------------------ a byte-level builder */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *data, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		ck_assert(b->p != NULL);
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
}

static void put_u32(struct buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(struct buf *b, uint64_t v) { put(b, &v, 8); }

static void put_str(struct buf *b, const char *s)
{
	put_u64(b, strlen(s));
	put(b, s, strlen(s));
}

static void put_header(struct buf *b, uint32_t version, uint64_t n_tensors,
		       uint64_t n_kv)
{
	put(b, "GGUF", 4);
	put_u32(b, version);
	put_u64(b, n_tensors);
	put_u64(b, n_kv);
}

static void put_kv_u32(struct buf *b, const char *key, uint32_t v)
{
	put_str(b, key);
	put_u32(b, QVK_GGUF_UINT32);
	put_u32(b, v);
}

static void put_tensor_info(struct buf *b, const char *name, uint32_t n_dims,
			    const uint64_t *ne, uint32_t type, uint64_t offset)
{
	put_str(b, name);
	put_u32(b, n_dims);
	for (uint32_t i = 0; i < n_dims; i++)
		put_u64(b, ne[i]);
	put_u32(b, type);
	put_u64(b, offset);
}

static void pad_to(struct buf *b, size_t align)
{
	static const uint8_t z[64];

	if (b->n % align)
		put(b, z, align - b->n % align);
}

/* Open @n bytes from an exact-size heap copy; returns the status. */
static qvk_status open_bytes(const void *data, size_t n, struct qvk_gguf **out)
{
	void *copy = malloc(n ? n : 1);
	qvk_status st;

	memcpy(copy, data, n);
	st = qvk_gguf_open_memory(qvk_test_ctx, copy, n, out);
	if (st == QVK_OK) {
		/* touch every tensor byte: must all be inside the copy */
		for (uint64_t i = 0; i < qvk_gguf_tensor_count(*out); i++) {
			const struct qvk_host_tensor *t = qvk_gguf_tensor_at(*out, i);
			volatile uint8_t sink = 0;

			for (uint64_t j = 0; j < t->size_bytes; j++)
				sink ^= ((const uint8_t *)t->data)[j];
			(void)sink;
		}
		qvk_gguf_close(*out);
		*out = NULL;
	}
	free(copy);
	return st;
}

static void expect_bad(struct buf *b, qvk_status want, const char *what,
		       const char *needle)
{
	struct qvk_gguf *g = NULL;
	qvk_status st = open_bytes(b->p, b->n, &g);
	const char *msg = qvk_ctx_message(qvk_test_ctx);

	printf("%-34s -> %s: %s\n", what, qvk_strerror(st), msg);
	ck_assert_msg(st == want, "%s: got %s, want %s", what, qvk_strerror(st),
		      qvk_strerror(want));
	ck_assert_ptr_null(g);
	ck_assert_msg(strstr(msg, needle) != NULL,
		      "%s: message lacks '%s'", what, needle);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/*
 * A small valid file: 3 metadata entries (one a string array) and two
 * tensors (F32 [8, 2] and Q8_0 [32]).
 */
static void build_valid(struct buf *b)
{
	const uint64_t ne_a[2] = { 8, 2 }, ne_b[1] = { 32 };
	float a[16];
	uint8_t q[34];

	put_header(b, 3, 2, 3);
	put_str(b, "general.architecture");
	put_u32(b, QVK_GGUF_STRING);
	put_str(b, "llama");
	put_kv_u32(b, "test.value", 42);
	put_str(b, "test.names");
	put_u32(b, QVK_GGUF_ARRAY);
	put_u32(b, QVK_GGUF_STRING);
	put_u64(b, 2);
	put_str(b, "one");
	put_str(b, "two");
	put_tensor_info(b, "a", 2, ne_a, QVK_GGML_TYPE_F32, 0);
	put_tensor_info(b, "b", 1, ne_b, QVK_GGML_TYPE_Q8_0, 64);
	pad_to(b, 32);
	for (int i = 0; i < 16; i++)
		a[i] = (float)i;
	put(b, a, sizeof(a));
	pad_to(b, 32);
	for (int i = 0; i < 34; i++)
		q[i] = (uint8_t)i;
	put(b, q, sizeof(q));
}

START_TEST(test_valid_small_file)
{
	struct buf b = { 0 };
	struct qvk_gguf *g;
	const struct qvk_host_tensor *t;
	struct qvk_gguf_str s;
	uint32_t v;

	build_valid(&b);
	ck_assert_int_eq(qvk_gguf_open_memory(qvk_test_ctx, b.p, b.n, &g), QVK_OK);
	ck_assert_uint_eq(qvk_gguf_version(g), 3);
	ck_assert_uint_eq(qvk_gguf_alignment(g), 32);
	ck_assert_uint_eq(qvk_gguf_kv_count(g), 3);
	ck_assert_int_eq(qvk_gguf_get_u32(qvk_test_ctx, g, "test.value", &v), QVK_OK);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(qvk_gguf_get_str(qvk_test_ctx, g, "general.architecture",
					  &s), QVK_OK);
	ck_assert(s.len == 5 && !memcmp(s.ptr, "llama", 5));
	ck_assert_int_eq(qvk_gguf_array_str(qvk_test_ctx,
			 qvk_gguf_find(g, "test.names"), 1, &s), QVK_OK);
	ck_assert(s.len == 3 && !memcmp(s.ptr, "two", 3));
	ck_assert_int_eq(qvk_gguf_get_u32(qvk_test_ctx, g, "missing", &v),
			 QVK_ERR_NOT_FOUND);
	ck_assert_int_eq(qvk_gguf_get_u32(qvk_test_ctx, g, "general.architecture",
					  &v), QVK_ERR_FORMAT);
	t = qvk_gguf_tensor_find(g, "b");
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->size_bytes, 34);
	ck_assert_uint_eq(((const uint8_t *)t->data)[33], 33);
	ck_assert_uint_eq((size_t)((const uint8_t *)t->data - b.p) % 32, 0);
	qvk_gguf_close(g);
	/* version 2 has the same little-endian layout */
	b.p[4] = 2;
	ck_assert_int_eq(qvk_gguf_open_memory(qvk_test_ctx, b.p, b.n, &g), QVK_OK);
	ck_assert_uint_eq(qvk_gguf_version(g), 2);
	ck_assert_uint_eq(qvk_gguf_tensor_count(g), 2);
	qvk_gguf_close(g);
	free(b.p);
}
END_TEST

/* Every prefix of a valid file must be refused, cleanly. */
START_TEST(test_every_truncation)
{
	struct buf b = { 0 };
	struct qvk_gguf *g = NULL;
	size_t refused = 0;

	build_valid(&b);
	for (size_t n = 0; n < b.n; n++) {
		qvk_status st = open_bytes(b.p, n, &g);

		ck_assert_msg(st != QVK_OK, "prefix of %zu/%zu bytes accepted", n, b.n);
		ck_assert_str_ne(qvk_ctx_message(qvk_test_ctx), "");
		refused++;
	}
	printf("all %zu truncations of a %zu-byte file refused\n", refused, b.n);
	ck_assert_int_eq(open_bytes(b.p, b.n, &g), QVK_OK);
	free(b.p);
}
END_TEST

/* Seeded random corruption: open must succeed or fail, never misbehave. */
START_TEST(test_random_corruption)
{
	uint64_t seed = qvk_test_seed("test_random_corruption"), rng = seed;
	struct buf b = { 0 };
	struct qvk_gguf *g = NULL;
	int refused = 0, iters = 3000;

	build_valid(&b);
	for (int it = 0; it < iters; it++) {
		uint8_t *copy = malloc(b.n);
		int flips = 1 + (int)(qvk_test_rand(&rng) % 4);

		memcpy(copy, b.p, b.n);
		for (int f = 0; f < flips; f++) {
			size_t at = qvk_test_rand(&rng) % b.n;
			uint64_t r = qvk_test_rand(&rng);

			/* bias towards the header and length fields */
			if (r & 1)
				at %= 96;
			copy[at] = (r >> 8) & 2 ? (uint8_t)(r >> 16) : 0xff;
		}
		refused += open_bytes(copy, b.n, &g) != QVK_OK;
		free(copy);
	}
	printf("random corruption: %d/%d corrupted files refused, none crashed\n",
	       refused, iters);
	ck_assert_int_gt(refused, iters / 4);
	free(b.p);
}
END_TEST

START_TEST(test_evil_headers)
{
	const uint64_t ne1[1] = { 32 }, ne2[2] = { 32, 2 };
	const uint64_t huge[2] = { 1ull << 40, 1ull << 40 };
	const uint64_t ne5[5] = { 1, 1, 1, 1, 1 };
	struct buf b = { 0 };

	put(&b, "GGUX", 4);
	put_u32(&b, 3);
	put_u64(&b, 0);
	put_u64(&b, 0);
	expect_bad(&b, QVK_ERR_FORMAT, "bad magic", "magic");

	put_header(&b, 1, 0, 0);
	expect_bad(&b, QVK_ERR_UNSUPPORTED, "version 1", "version 1");
	put_header(&b, 0x03000000u, 0, 0);
	expect_bad(&b, QVK_ERR_UNSUPPORTED, "big-endian", "big-endian");

	put_header(&b, 3, UINT64_MAX, 0);
	expect_bad(&b, QVK_ERR_FORMAT, "tensor_count 2^64-1", "tensor_count");
	put_header(&b, 3, 0, UINT64_MAX - 3);
	expect_bad(&b, QVK_ERR_FORMAT, "kv_count near 2^64", "metadata_kv_count");

	put_header(&b, 3, 0, 1);
	put_u64(&b, UINT64_MAX - 7);
	put(&b, "k", 1);
	pad_to(&b, 64); /* room enough for one entry */
	pad_to(&b, 128);
	expect_bad(&b, QVK_ERR_FORMAT, "key length near 2^64", "string length");

	put_header(&b, 3, 0, 1);
	put_str(&b, "k");
	put_u32(&b, QVK_GGUF_STRING);
	put_u64(&b, 1000);
	put(&b, "short", 5);
	expect_bad(&b, QVK_ERR_FORMAT, "string value past the end", "exceeds");

	put_header(&b, 3, 0, 1);
	put_str(&b, "k");
	put_u32(&b, QVK_GGUF_ARRAY);
	put_u32(&b, QVK_GGUF_UINT32);
	put_u64(&b, 1ull << 62); /* * 4 bytes overflows 64 bits */
	expect_bad(&b, QVK_ERR_FORMAT, "array count * size overflows", "past the end");

	put_header(&b, 3, 0, 1);
	put_str(&b, "k");
	put_u32(&b, QVK_GGUF_ARRAY);
	put_u32(&b, QVK_GGUF_STRING);
	put_u64(&b, UINT64_MAX);
	expect_bad(&b, QVK_ERR_FORMAT, "string array count 2^64-1", "past the end");

	put_header(&b, 3, 0, 1);
	put_str(&b, "k");
	put_u32(&b, QVK_GGUF_ARRAY);
	put_u32(&b, QVK_GGUF_ARRAY);
	put_u64(&b, 1);
	put_u32(&b, 0);
	expect_bad(&b, QVK_ERR_FORMAT, "nested array", "nested");

	put_header(&b, 3, 0, 1);
	put_str(&b, "k");
	put_u32(&b, 13);
	put_u32(&b, 0);
	expect_bad(&b, QVK_ERR_FORMAT, "unknown value type", "unknown");

	put_header(&b, 3, 0, 1);
	put_str(&b, "k");
	put_u32(&b, QVK_GGUF_BOOL);
	put(&b, "\x02", 1);
	expect_bad(&b, QVK_ERR_FORMAT, "bool 2", "not 0 or 1");

	put_header(&b, 3, 0, 2);
	put_kv_u32(&b, "dup.key", 1);
	put_kv_u32(&b, "dup.key", 2);
	expect_bad(&b, QVK_ERR_FORMAT, "duplicate key", "duplicate metadata key");

	put_header(&b, 3, 0, 1);
	put_str(&b, "");
	put_u32(&b, QVK_GGUF_UINT8);
	put(&b, "\x01", 1);
	pad_to(&b, 64);
	expect_bad(&b, QVK_ERR_FORMAT, "empty key", "empty");

	put_header(&b, 3, 0, 1);
	put_kv_u32(&b, "general.alignment", 24);
	expect_bad(&b, QVK_ERR_FORMAT, "alignment 24", "power of two");
	put_header(&b, 3, 0, 1);
	put_kv_u32(&b, "general.alignment", 0);
	expect_bad(&b, QVK_ERR_FORMAT, "alignment 0", "power of two");
	put_header(&b, 3, 0, 1);
	put_str(&b, "general.alignment");
	put_u32(&b, QVK_GGUF_STRING);
	put_str(&b, "32");
	expect_bad(&b, QVK_ERR_FORMAT, "alignment as a string", "expected an integer");

	/* tensor infos */
	put_header(&b, 3, 1, 0);
	put_tensor_info(&b, "t", 5, ne5, QVK_GGML_TYPE_F32, 0);
	pad_to(&b, 32);
	put(&b, ne5, 32);
	expect_bad(&b, QVK_ERR_FORMAT, "n_dims 5", "n_dims 5");
	put_header(&b, 3, 1, 0);
	put_tensor_info(&b, "t", 0, ne1, QVK_GGML_TYPE_F32, 0);
	pad_to(&b, 32);
	put(&b, ne5, 40);
	expect_bad(&b, QVK_ERR_FORMAT, "n_dims 0", "n_dims 0");

	put_header(&b, 3, 1, 0);
	put_tensor_info(&b, "t", 2, huge, QVK_GGML_TYPE_F32, 0);
	pad_to(&b, 32);
	expect_bad(&b, QVK_ERR_FORMAT, "2^80 elements", "no valid size");

	put_header(&b, 3, 1, 0);
	put_tensor_info(&b, "t", 1, (const uint64_t[]){ 0 }, QVK_GGML_TYPE_F32, 0);
	pad_to(&b, 32);
	expect_bad(&b, QVK_ERR_FORMAT, "zero dimension", "ne[0] = 0");

	put_header(&b, 3, 1, 0);
	put_tensor_info(&b, "t", 1, (const uint64_t[]){ 40 }, QVK_GGML_TYPE_Q8_0, 0);
	pad_to(&b, 32);
	put(&b, huge, 16);
	expect_bad(&b, QVK_ERR_FORMAT, "Q8_0 row of 40", "multiple of the block");

	put_header(&b, 3, 1, 0);
	put_tensor_info(&b, "t", 1, ne1, 16 /* IQ2_XXS */, 0);
	pad_to(&b, 32);
	expect_bad(&b, QVK_ERR_UNSUPPORTED, "IQ2_XXS tensor",
		   "'t' is of type IQ2_XXS (ggml type 16");
	put_header(&b, 3, 1, 0);
	put_tensor_info(&b, "t", 1, ne1, 0xdeadbeef, 0);
	pad_to(&b, 32);
	expect_bad(&b, QVK_ERR_UNSUPPORTED, "type 0xdeadbeef",
		   "unknown type 3735928559");

	put_header(&b, 3, 1, 0);
	put_tensor_info(&b, "t", 1, ne1, QVK_GGML_TYPE_F32, 4);
	pad_to(&b, 32);
	for (int i = 0; i < 9; i++)
		put(&b, huge, 16);
	expect_bad(&b, QVK_ERR_FORMAT, "misaligned offset", "not a multiple");

	put_header(&b, 3, 1, 0);
	put_tensor_info(&b, "t", 1, ne1, QVK_GGML_TYPE_F32, 0);
	pad_to(&b, 32);
	put(&b, huge, 16);
	expect_bad(&b, QVK_ERR_FORMAT, "data past the end", "past the end");

	put_header(&b, 3, 1, 0);
	put_tensor_info(&b, "t", 1, ne1, QVK_GGML_TYPE_F32, UINT64_MAX - 31);
	pad_to(&b, 32);
	expect_bad(&b, QVK_ERR_FORMAT, "offset near 2^64", "past the end");

	put_header(&b, 3, 2, 0);
	put_tensor_info(&b, "t", 1, ne1, QVK_GGML_TYPE_F32, 0);
	put_tensor_info(&b, "u", 1, ne1, QVK_GGML_TYPE_F32, 64);
	pad_to(&b, 32);
	for (int i = 0; i < 16; i++)
		put(&b, huge, 16);
	expect_bad(&b, QVK_ERR_FORMAT, "overlapping tensors", "overlap");

	put_header(&b, 3, 2, 0);
	put_tensor_info(&b, "t", 1, ne1, QVK_GGML_TYPE_F32, 0);
	put_tensor_info(&b, "t", 1, ne1, QVK_GGML_TYPE_F32, 128);
	pad_to(&b, 32);
	for (int i = 0; i < 16; i++)
		put(&b, huge, 16);
	expect_bad(&b, QVK_ERR_FORMAT, "duplicate tensor names", "duplicate tensor");

	put_header(&b, 3, 1, 0);
	put_tensor_info(&b, "0123456789012345678901234567890123456789012345678901234567890123",
			1, ne1, QVK_GGML_TYPE_F32, 0);
	pad_to(&b, 32);
	put(&b, huge, 16);
	expect_bad(&b, QVK_ERR_FORMAT, "64-byte tensor name", "name of 64 bytes");

	put_header(&b, 3, 1, 0);
	put_tensor_info(&b, "t", 2, ne2, QVK_GGML_TYPE_F16, 0);
	expect_bad(&b, QVK_ERR_FORMAT, "no data section", "data");
}
END_TEST

Suite *suite_gguf_hostile(void);
Suite *suite_gguf_hostile(void)
{
	Suite *s = suite_create("gguf_hostile");
	TCase *ok = tcase_create("valid");
	TCase *bad = tcase_create("hostile");

	tcase_add_checked_fixture(ok, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(ok, test_valid_small_file);
	suite_add_tcase(s, ok);

	tcase_add_checked_fixture(bad, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(bad, 120);
	tcase_add_test(bad, test_evil_headers);
	tcase_add_test(bad, test_every_truncation);
	tcase_add_test(bad, test_random_corruption);
	suite_add_tcase(s, bad);
	return s;
}
