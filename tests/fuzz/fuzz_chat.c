/*
 * libFuzzer target: the chat template matcher and renderer
 * (include/qvk/chat.h). Input: NUL-separated fields; the first is a
 * tokenizer.chat_template text (or a name) given to the matcher, the rest
 * are role/content pairs, rendered in the format the matcher picked and in
 * one more chosen by byte 0 (so every format is reached). The renderer
 * must agree with itself: the size it reports with cap 0 is the text it
 * writes, NUL-terminated, and a buffer one byte short is refused with the
 * same size. Seeds: the real templates of the qwen2 and phi-3 GGUFs and
 * format names.
 */
/*
 * libFuzzer target: the chat template matcher and renderer
 * (include/qvk/chat.h). Input: NUL-separated fields; the first is a
 * tokenizer.chat_template text (or a name) given to the matcher, the rest
 * are role/content pairs, rendered in the format the matcher picked and in
 * one more chosen by byte 0 (so every format is reached). The renderer must agree with itself: the
 * size it reports with cap 0 is the text it writes, NUL-terminated, and a
 * buffer one byte short is refused with the same size. Seeds: the real
 * templates of the qwen2 and phi-3 GGUFs and every format's name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/chat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_MESSAGES 8

static void fuzz_render(struct qvk_ctx *ctx, enum qvk_chat_template t,
			const struct qvk_chat_message *msgs, size_t n, bool add)
{
	size_t len = 0, len2 = 0, len3 = 0;
	char *buf;

	if (qvk_chat_template_apply(ctx, t, msgs, n, add, NULL, 0, &len) ==
	    QVK_OK && len)
		abort(); /* cap 0 cannot hold a non-empty text */
	if (t == QVK_CHAT_UNKNOWN)
		return;
	buf = malloc(len + 1);
	if (!buf)
		return;
	if (qvk_chat_template_apply(ctx, t, msgs, n, add, buf, len + 1,
				    &len2) != QVK_OK ||
	    len2 != len || buf[len] || strlen(buf) > len)
		abort();
	if (len && (qvk_chat_template_apply(ctx, t, msgs, n, add, buf, len,
					    &len3) != QVK_ERR_INVALID_ARG ||
		    len3 != len))
		abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qvk_chat_message msgs[FUZZ_MAX_MESSAGES];
	const char *fields[2 * FUZZ_MAX_MESSAGES + 1], *llama_name;
	struct qvk_ctx *ctx;
	size_t n_fields = 0, n;
	enum qvk_chat_template t;
	char *copy;

	if (size > 65536 || qvk_ctx_create(&ctx))
		return 0;
	qvk_ctx_set_log(ctx, QVK_LOG_ERROR, NULL, NULL);
	copy = malloc(size + 1);
	if (!copy) {
		qvk_ctx_destroy(ctx);
		return 0;
	}
	memcpy(copy, data, size);
	copy[size] = 0;
	for (char *p = copy; p <= copy + size &&
			     n_fields < sizeof(fields) / sizeof(fields[0]);
	     p += strlen(p) + 1)
		fields[n_fields++] = p;
	t = qvk_chat_template_detect(fields[0], &llama_name);
	if (t != QVK_CHAT_UNKNOWN && !qvk_chat_template_name(t))
		abort();
	n = (n_fields - 1) / 2;
	for (size_t i = 0; i < n; i++)
		msgs[i] = (struct qvk_chat_message){ fields[1 + 2 * i],
						     fields[2 + 2 * i] };
	fuzz_render(ctx, t, msgs, n, size & 1);
	t = (enum qvk_chat_template)(size ? data[0] % QVK_CHAT_TEMPLATE_COUNT : 0);
	fuzz_render(ctx, t, msgs, n, !(size & 1));
	free(copy);
	qvk_ctx_destroy(ctx);
	return 0;
}
