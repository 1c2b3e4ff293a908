#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/cmd.h"
#include "txguard/error.h"
#include "txguard/rules.h"

int cmd_explain(int argc, const char **argv)
{
	bool help = false;
	const struct tg_option opts[] = {
		{ "help", 'h', TG_OPT_FLAG, &help, NULL, "show this help" },
	};
	const char **args;
	int nargs, ret = TG_EXIT_OK;

	if (tg_opt_parse(&args, &nargs, argc, argv, opts,
			 TG_ARRAY_SIZE(opts)) < 0)
		return tg_die_usage("explain --help", tg_error_last());
	if (help) {
		tg_opt_usage(stdout, "txguard explain [RULE...]",
			     "Describe a rule: what it catches, why it hurts in production,\n"
			     "wrong and right code, the fix and how to suppress it. Without a\n"
			     "rule, list every rule.",
			     opts, TG_ARRAY_SIZE(opts));
		goto out;
	}
	if (!nargs) {
		size_t n;
		const struct tg_rule *rules = tg_rules_all(&n);

		for (size_t i = 0; i < n; i++)
			printf("%s  %-26s %-8s %s%s\n", rules[i].id, rules[i].name,
			       tg_severity_name(rules[i].severity),
			       rules[i].summary,
			       tg_analyze_implements(rules[i].id) ? "" :
								    " (not checked yet)");
		printf("\nrun 'txguard explain RULE' for details\n");
		goto out;
	}
	for (int i = 0; i < nargs; i++) {
		const struct tg_rule *r = tg_rules_lookup(args[i]);

		if (!r) {
			char msg[256];

			snprintf(msg, sizeof(msg),
				 "unknown rule '%s' (run 'txguard explain' for the list)",
				 args[i]);
			ret = tg_die_usage("explain --help", msg);
			goto out;
		}
		if (i)
			putchar('\n');
		/* the explain text opens with the rule's own title line */
		printf("%s\n", r->explain);
		if (!tg_analyze_implements(r->id))
			printf("\nNote: this version of txguard does not check %s yet.\n",
			       r->id);
	}
out:
	free(args);
	return ret;
}
