/* SPDX-License-Identifier: MIT */
/*
 * Rendering a conversation in a chat format, as llama.cpp's
 * llm_chat_apply_template writes it (src/llama-chat.cpp), byte for byte:
 * the same trimming, the same merged Gemma system prompt, no assistant
 * header for the [INST] formats.
 */
#include <string.h>

#include <qvk/chat.h>

#include "../internal.h"

/* Output that counts everything and keeps what fits. */
struct qvk_chat_out {
	char *buf;
	size_t cap, len;
};

static void qvk_chat_put(struct qvk_chat_out *o, const char *s, size_t n)
{
	if (o->len < o->cap)
		memcpy(o->buf + o->len, s, QVK_MIN(n, o->cap - o->len));
	o->len += n;
}

static void qvk_chat_puts(struct qvk_chat_out *o, const char *s)
{
	qvk_chat_put(o, s, strlen(s));
}

/* C isspace() in the C locale, which llama.cpp's trim() uses. */
static bool qvk_chat_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* @s without leading and trailing white space, as (start, length). */
static void qvk_chat_put_trimmed(struct qvk_chat_out *o, const char *s)
{
	size_t n = strlen(s);

	while (n && qvk_chat_space(*s)) {
		s++;
		n--;
	}
	while (n && qvk_chat_space(s[n - 1]))
		n--;
	qvk_chat_put(o, s, n);
}

static void qvk_chat_content(struct qvk_chat_out *o, const char *s, bool trim)
{
	if (trim)
		qvk_chat_put_trimmed(o, s);
	else
		qvk_chat_puts(o, s);
}

static bool qvk_role_is(const struct qvk_chat_message *m, const char *role)
{
	return !strcmp(m->role, role);
}

static void qvk_chat_llama2(struct qvk_chat_out *o, enum qvk_chat_template t,
			    const struct qvk_chat_message *msgs, size_t n)
{
	bool sys = t != QVK_CHAT_LLAMA2, bos = t == QVK_CHAT_LLAMA2_SYS_BOS;
	bool strip = t == QVK_CHAT_LLAMA2_SYS_STRIP, inside = true;

	qvk_chat_puts(o, "[INST] ");
	for (size_t i = 0; i < n; i++) {
		if (!inside) {
			inside = true;
			qvk_chat_puts(o, bos ? "<s>[INST] " : "[INST] ");
		}
		if (qvk_role_is(&msgs[i], "system")) {
			/* without <<SYS>>, the system text opens the turn */
			qvk_chat_puts(o, sys ? "<<SYS>>\n" : "");
			qvk_chat_content(o, msgs[i].content, strip);
			qvk_chat_puts(o, sys ? "\n<</SYS>>\n\n" : "\n");
		} else if (qvk_role_is(&msgs[i], "user")) {
			qvk_chat_content(o, msgs[i].content, strip);
			qvk_chat_puts(o, " [/INST]");
		} else {
			qvk_chat_content(o, msgs[i].content, strip);
			qvk_chat_puts(o, "</s>");
			inside = false;
		}
	}
}

static void qvk_chat_mistral(struct qvk_chat_out *o, enum qvk_chat_template t,
			     const struct qvk_chat_message *msgs, size_t n)
{
	const char *lead = t == QVK_CHAT_MISTRAL_V1 ? " " : "";
	const char *trail = t == QVK_CHAT_MISTRAL_V3_TEKKEN ? "" : " ";
	bool inside = false;

	for (size_t i = 0; i < n; i++) {
		if (!inside) {
			qvk_chat_puts(o, lead);
			qvk_chat_puts(o, "[INST]");
			qvk_chat_puts(o, trail);
			inside = true;
		}
		if (qvk_role_is(&msgs[i], "system")) {
			qvk_chat_puts(o, msgs[i].content);
			qvk_chat_puts(o, "\n\n");
		} else if (qvk_role_is(&msgs[i], "user")) {
			qvk_chat_puts(o, msgs[i].content);
			qvk_chat_puts(o, lead);
			qvk_chat_puts(o, "[/INST]");
		} else {
			qvk_chat_puts(o, trail);
			qvk_chat_content(o, msgs[i].content,
					 t == QVK_CHAT_MISTRAL_V3);
			qvk_chat_puts(o, "</s>");
			inside = false;
		}
	}
}

static void qvk_chat_mistral_v7(struct qvk_chat_out *o,
				enum qvk_chat_template t,
				const struct qvk_chat_message *msgs, size_t n)
{
	const char *sp = t == QVK_CHAT_MISTRAL_V7 ? " " : "";

	for (size_t i = 0; i < n; i++) {
		bool system = qvk_role_is(&msgs[i], "system");
		bool user = qvk_role_is(&msgs[i], "user");

		qvk_chat_puts(o, system ? "[SYSTEM_PROMPT]" : user ? "[INST]" : "");
		qvk_chat_puts(o, sp);
		qvk_chat_puts(o, msgs[i].content);
		qvk_chat_puts(o, system ? "[/SYSTEM_PROMPT]" :
				 user ? "[/INST]" : "</s>");
	}
}

/* Gemma has no system role: the system text opens the next user turn. */
static void qvk_chat_gemma(struct qvk_chat_out *o,
			   const struct qvk_chat_message *msgs, size_t n,
			   bool add_assistant)
{
	size_t sys_from = n, sys_to = 0; /* the pending system messages */

	for (size_t i = 0; i < n; i++) {
		bool model = qvk_role_is(&msgs[i], "assistant");
		bool pending = false;

		if (qvk_role_is(&msgs[i], "system")) {
			sys_from = QVK_MIN(sys_from, i);
			sys_to = i + 1;
			continue;
		}
		qvk_chat_puts(o, "<start_of_turn>");
		qvk_chat_puts(o, model ? "model" : msgs[i].role);
		qvk_chat_puts(o, "\n");
		/* llama.cpp: only if the trimmed system texts are not empty */
		for (size_t s = sys_from; !model && s < sys_to; s++)
			if (qvk_role_is(&msgs[s], "system")) {
				struct qvk_chat_out probe = { NULL, 0, 0 };

				qvk_chat_put_trimmed(&probe, msgs[s].content);
				pending |= probe.len > 0;
			}
		if (pending) {
			for (size_t s = sys_from; s < sys_to; s++)
				if (qvk_role_is(&msgs[s], "system"))
					qvk_chat_put_trimmed(o, msgs[s].content);
			qvk_chat_puts(o, "\n\n");
		}
		if (!model) {
			sys_from = n;
			sys_to = 0;
		}
		qvk_chat_put_trimmed(o, msgs[i].content);
		qvk_chat_puts(o, "<end_of_turn>\n");
	}
	if (add_assistant)
		qvk_chat_puts(o, "<start_of_turn>model\n");
}

/*
 * The formats that are one header, the content and one footer per
 * message: chatml, phi3, phi4, falcon3, zephyr, llama3.
 */
static void qvk_chat_simple(struct qvk_chat_out *o, enum qvk_chat_template t,
			    const struct qvk_chat_message *msgs, size_t n,
			    bool add_assistant)
{
	static const struct {
		const char *open, *close_role, *close, *assistant;
		bool trim;
	} f[QVK_CHAT_TEMPLATE_COUNT] = {
		[QVK_CHAT_CHATML] = { "<|im_start|>", "\n", "<|im_end|>\n",
				      "<|im_start|>assistant\n", false },
		[QVK_CHAT_PHI3] = { "<|", "|>\n", "<|end|>\n",
				    "<|assistant|>\n", false },
		[QVK_CHAT_PHI4] = { "<|im_start|>", "<|im_sep|>", "<|im_end|>",
				    "<|im_start|>assistant<|im_sep|>", false },
		[QVK_CHAT_FALCON3] = { "<|", "|>\n", "\n", "<|assistant|>\n",
				       false },
		[QVK_CHAT_ZEPHYR] = { "<|", "|>\n", "<|endoftext|>\n",
				      "<|assistant|>\n", false },
		[QVK_CHAT_LLAMA3] = { "<|start_header_id|>",
				      "<|end_header_id|>\n\n", "<|eot_id|>",
				      "<|start_header_id|>assistant"
				      "<|end_header_id|>\n\n", true },
	};

	for (size_t i = 0; i < n; i++) {
		qvk_chat_puts(o, f[t].open);
		qvk_chat_puts(o, msgs[i].role);
		qvk_chat_puts(o, f[t].close_role);
		qvk_chat_content(o, msgs[i].content, f[t].trim);
		qvk_chat_puts(o, f[t].close);
	}
	if (add_assistant)
		qvk_chat_puts(o, f[t].assistant);
}

qvk_status qvk_chat_template_apply(struct qvk_ctx *ctx,
				   enum qvk_chat_template t,
				   const struct qvk_chat_message *msgs,
				   size_t n, bool add_assistant, char *buf,
				   size_t cap, size_t *len)
{
	struct qvk_chat_out o = { buf, cap, 0 };

	if (!len || (n && !msgs) || (cap && !buf))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "chat template: bad arguments");
	*len = 0;
	for (size_t i = 0; i < n; i++)
		if (!msgs[i].role || !msgs[i].content)
			return qvk_error(ctx, QVK_ERR_INVALID_ARG,
					 "chat template: message %zu has no "
					 "role or content", i);
	switch (t) {
	case QVK_CHAT_CHATML:
	case QVK_CHAT_PHI3:
	case QVK_CHAT_PHI4:
	case QVK_CHAT_FALCON3:
	case QVK_CHAT_ZEPHYR:
	case QVK_CHAT_LLAMA3:
		qvk_chat_simple(&o, t, msgs, n, add_assistant);
		break;
	case QVK_CHAT_LLAMA2:
	case QVK_CHAT_LLAMA2_SYS:
	case QVK_CHAT_LLAMA2_SYS_BOS:
	case QVK_CHAT_LLAMA2_SYS_STRIP:
		qvk_chat_llama2(&o, t, msgs, n);
		break;
	case QVK_CHAT_MISTRAL_V1:
	case QVK_CHAT_MISTRAL_V3:
	case QVK_CHAT_MISTRAL_V3_TEKKEN:
		qvk_chat_mistral(&o, t, msgs, n);
		break;
	case QVK_CHAT_MISTRAL_V7:
	case QVK_CHAT_MISTRAL_V7_TEKKEN:
		qvk_chat_mistral_v7(&o, t, msgs, n);
		break;
	case QVK_CHAT_GEMMA:
		qvk_chat_gemma(&o, msgs, n, add_assistant);
		break;
	default:
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "chat template: format %d is not one qvk "
				 "renders", (int)t);
	}
	*len = o.len;
	if (o.len >= cap)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "chat template: %zu bytes do not fit in %zu",
				 o.len + 1, cap);
	buf[o.len] = '\0';
	return QVK_OK;
}
