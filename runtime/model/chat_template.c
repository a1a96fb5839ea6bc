/* SPDX-License-Identifier: MIT */
/*
 * Recognising chat templates by their text, in the order of llama.cpp's
 * llm_chat_detect_template (src/llama-chat.cpp): the first rule that
 * matches decides, so a rule for a format qvk does not render still has to
 * be there to keep the template from falling through to a later one.
 */
#include <stdio.h>
#include <string.h>

#include <qvk/chat.h>

#include "../internal.h"

struct qvk_chat_info {
	const char *name; /* llama.cpp's name */
	const char *end;  /* the text that ends a reply */
};

static const struct qvk_chat_info qvk_chat_info[QVK_CHAT_TEMPLATE_COUNT] = {
	[QVK_CHAT_CHATML] = { "chatml", "<|im_end|>" },
	[QVK_CHAT_LLAMA3] = { "llama3", "<|eot_id|>" },
	[QVK_CHAT_LLAMA2] = { "llama2", "</s>" },
	[QVK_CHAT_LLAMA2_SYS] = { "llama2-sys", "</s>" },
	[QVK_CHAT_LLAMA2_SYS_BOS] = { "llama2-sys-bos", "</s>" },
	[QVK_CHAT_LLAMA2_SYS_STRIP] = { "llama2-sys-strip", "</s>" },
	[QVK_CHAT_MISTRAL_V1] = { "mistral-v1", "</s>" },
	[QVK_CHAT_MISTRAL_V3] = { "mistral-v3", "</s>" },
	[QVK_CHAT_MISTRAL_V3_TEKKEN] = { "mistral-v3-tekken", "</s>" },
	[QVK_CHAT_MISTRAL_V7] = { "mistral-v7", "</s>" },
	[QVK_CHAT_MISTRAL_V7_TEKKEN] = { "mistral-v7-tekken", "</s>" },
	[QVK_CHAT_PHI3] = { "phi3", "<|end|>" },
	[QVK_CHAT_PHI4] = { "phi4", "<|im_end|>" },
	[QVK_CHAT_FALCON3] = { "falcon3", "<|endoftext|>" },
	[QVK_CHAT_ZEPHYR] = { "zephyr", "<|endoftext|>" },
	[QVK_CHAT_GEMMA] = { "gemma", "<end_of_turn>" },
};

const char *qvk_chat_template_name(enum qvk_chat_template t)
{
	return t > QVK_CHAT_UNKNOWN && t < QVK_CHAT_TEMPLATE_COUNT ?
		       qvk_chat_info[t].name : NULL;
}

const char *qvk_chat_template_end_text(enum qvk_chat_template t)
{
	return t > QVK_CHAT_UNKNOWN && t < QVK_CHAT_TEMPLATE_COUNT ?
		       qvk_chat_info[t].end : NULL;
}

size_t qvk_chat_template_list(char *buf, size_t cap)
{
	size_t n = 0;

	if (cap)
		buf[0] = '\0';
	for (int t = QVK_CHAT_UNKNOWN + 1; t < QVK_CHAT_TEMPLATE_COUNT; t++) {
		int w = snprintf(buf + QVK_MIN(n, cap), n < cap ? cap - n : 0,
				 "%s%s", n ? ", " : "", qvk_chat_info[t].name);

		n += w > 0 ? (size_t)w : 0;
	}
	return n;
}

static bool qvk_has(const char *text, const char *needle)
{
	return strstr(text, needle) != NULL;
}

/*
 * The llama2 family and Mistral's official templates, which all contain
 * [INST] (or are named "mistral...").
 */
static enum qvk_chat_template qvk_chat_detect_inst(const char *t)
{
	if (qvk_has(t, "[SYSTEM_PROMPT]"))
		return QVK_CHAT_MISTRAL_V7;
	if (qvk_has(t, "' [INST] ' + system_message") ||
	    qvk_has(t, "[AVAILABLE_TOOLS]")) {
		if (qvk_has(t, " [INST]"))
			return QVK_CHAT_MISTRAL_V1;
		if (qvk_has(t, "\"[INST]\""))
			return QVK_CHAT_MISTRAL_V3_TEKKEN;
		return QVK_CHAT_MISTRAL_V3;
	}
	if (qvk_has(t, "content.strip()"))
		return QVK_CHAT_LLAMA2_SYS_STRIP;
	if (qvk_has(t, "bos_token + '[INST]"))
		return QVK_CHAT_LLAMA2_SYS_BOS;
	if (qvk_has(t, "<<SYS>>"))
		return QVK_CHAT_LLAMA2_SYS;
	return QVK_CHAT_LLAMA2;
}

enum qvk_chat_template qvk_chat_template_detect(const char *t,
						const char **llama_name)
{
	/* formats llama.cpp knows and qvk does not render, in its order */
	const char *other = NULL;
	enum qvk_chat_template r = QVK_CHAT_UNKNOWN;

	if (llama_name)
		*llama_name = NULL;
	if (!t)
		return QVK_CHAT_UNKNOWN;
	for (int i = QVK_CHAT_UNKNOWN + 1; i < QVK_CHAT_TEMPLATE_COUNT; i++)
		if (!strcmp(t, qvk_chat_info[i].name))
			return (enum qvk_chat_template)i;
	if (qvk_has(t, "<|im_start|>"))
		r = qvk_has(t, "<|im_sep|>") ? QVK_CHAT_PHI4 :
		    qvk_has(t, "<end_of_utterance>") ? QVK_CHAT_UNKNOWN :
						       QVK_CHAT_CHATML;
	else if (!strncmp(t, "mistral", 7) || qvk_has(t, "[INST]"))
		r = qvk_chat_detect_inst(t);
	else if (qvk_has(t, "<|assistant|>") && qvk_has(t, "<|end|>"))
		r = QVK_CHAT_PHI3;
	else if (qvk_has(t, "[gMASK]<sop>"))
		other = "chatglm4";
	else if (qvk_has(t, "<|assistant|>") && qvk_has(t, "<|user|>"))
		r = qvk_has(t, "<|tool_declare|>") ? QVK_CHAT_UNKNOWN :
		    qvk_has(t, "</s>") ? QVK_CHAT_FALCON3 : QVK_CHAT_UNKNOWN;
	else if (qvk_has(t, "<|{{ item['role'] }}|>") &&
		 qvk_has(t, "<|begin_of_image|>"))
		other = "glmedge";
	else if (qvk_has(t, "<|user|>") && qvk_has(t, "<|endoftext|>"))
		r = QVK_CHAT_ZEPHYR;
	else if (qvk_has(t, "bos_token + message['role']"))
		other = "monarch";
	else if (qvk_has(t, "<start_of_turn>"))
		r = QVK_CHAT_GEMMA;
	else if (qvk_has(t, "'\\n\\nAssistant: ' + eos_token"))
		other = "orion";
	else if (qvk_has(t, "GPT4 Correct "))
		other = "openchat";
	else if (qvk_has(t, "USER: ") && qvk_has(t, "ASSISTANT: "))
		other = qvk_has(t, "SYSTEM: ") ? "vicuna-orca" : "vicuna";
	else if (qvk_has(t, "### Instruction:") && qvk_has(t, "<|EOT|>"))
		other = "deepseek";
	else if (qvk_has(t, "<|START_OF_TURN_TOKEN|>") &&
		 qvk_has(t, "<|USER_TOKEN|>"))
		other = "command-r";
	else if (qvk_has(t, "<|start_header_id|>") &&
		 qvk_has(t, "<|end_header_id|>"))
		r = QVK_CHAT_LLAMA3;
	/* llama.cpp's later rules are all formats qvk does not render */
	if (r == QVK_CHAT_UNKNOWN && !other && qvk_has(t, "<|im_start|>"))
		other = "smolvlm";
	if (r == QVK_CHAT_UNKNOWN && !other && qvk_has(t, "<|assistant|>") &&
	    qvk_has(t, "<|user|>"))
		other = qvk_has(t, "<|tool_declare|>") ? "exaone-moe" : "glmedge";
	if (llama_name)
		*llama_name = other;
	return r;
}
