/* SPDX-License-Identifier: MIT */
/*
 * The sampling options of the commands that generate text (qvk run and
 * qvk chat): --temp, --top-k, --top-p, --min-p, --repeat-penalty,
 * -s/--seed, with one set of defaults and one help text.
 */
#ifndef QVK_TOOLS_SAMPLING_ARGS_H
#define QVK_TOOLS_SAMPLING_ARGS_H

#include <stdbool.h>

#include <qvk/sampler.h>

struct qvk_sampling_args {
	struct qvk_sampler_options opt;
	bool seed_set;
};

/* temperature 0.8, top-p 0.9, the rest as qvk_sampler_options_default(). */
void qvk_sampling_args_init(struct qvk_sampling_args *a);

/*
 * Consume one sampling option at argv[*i] (and its value); returns 1 if
 * taken, 0 if not a sampling option, -1 on a bad value (reported).
 */
int qvk_sampling_args_parse(const char *cmd, int argc, char **argv, int *i,
			    struct qvk_sampling_args *a);

/* The seed from the clock unless -s/--seed gave one. */
void qvk_sampling_args_finish(struct qvk_sampling_args *a);

/* The option lines for --help. */
extern const char qvk_sampling_args_help[];

#endif
