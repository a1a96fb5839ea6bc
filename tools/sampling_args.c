/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <time.h>

#include "sampling_args.h"
#include "tool.h"

const char qvk_sampling_args_help[] =
	"  --temp T          0 is greedy (default 0.8)\n"
	"  --top-k K         keep the K most likely (default 0: off)\n"
	"  --top-p P         nucleus sampling (default 0.9)\n"
	"  --min-p P         drop tokens less likely than P times the most "
	"likely one,\n"
	"                    judged before temperature (default 0: off)\n"
	"  --repeat-penalty R  >= 1 (default 1: off)\n"
	"  -s, --seed S      sampling seed (default: from the clock, printed)\n";

void qvk_sampling_args_init(struct qvk_sampling_args *a)
{
	qvk_sampler_options_default(&a->opt);
	a->opt.temperature = 0.8f;
	a->opt.top_p = 0.9f;
	a->seed_set = false;
}

int qvk_sampling_args_parse(const char *cmd, int argc, char **argv, int *i,
			    struct qvk_sampling_args *a)
{
	const char *arg = argv[*i];
	const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
	struct qvk_sampler_options *o = &a->opt;
	uint64_t v;
	double d;
	bool ok;

	if (strcmp(arg, "--temp") && strcmp(arg, "--top-k") &&
	    strcmp(arg, "--top-p") && strcmp(arg, "--min-p") &&
	    strcmp(arg, "--repeat-penalty") && strcmp(arg, "-s") &&
	    strcmp(arg, "--seed"))
		return 0;
	if (!val) {
		qvk_tool_usage_error(cmd, "%s needs a value", arg);
		return -1;
	}
	++*i;
	if (!strcmp(arg, "--temp")) {
		ok = qvk_tool_parse_double(cmd, arg, val, 0, 100, &d);
		o->temperature = (float)d;
	} else if (!strcmp(arg, "--top-k")) {
		ok = qvk_tool_parse_u64(cmd, arg, val, 0, 1u << 24, &v);
		o->top_k = (uint32_t)v;
	} else if (!strcmp(arg, "--top-p")) {
		ok = qvk_tool_parse_double(cmd, arg, val, 1e-6, 1, &d);
		o->top_p = (float)d;
	} else if (!strcmp(arg, "--min-p")) {
		ok = qvk_tool_parse_double(cmd, arg, val, 0, 1, &d);
		o->min_p = (float)d;
	} else if (!strcmp(arg, "--repeat-penalty")) {
		ok = qvk_tool_parse_double(cmd, arg, val, 1, 100, &d);
		o->repeat_penalty = (float)d;
	} else {
		ok = qvk_tool_parse_u64(cmd, arg, val, 0, UINT64_MAX, &o->seed);
		a->seed_set = ok;
	}
	return ok ? 1 : -1;
}

void qvk_sampling_args_finish(struct qvk_sampling_args *a)
{
	if (!a->seed_set)
		a->opt.seed = (uint64_t)time(NULL);
}
