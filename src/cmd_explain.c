/*
 * txguard explain: a rule's documentation, by id (TX001) or by name
 * (double-transaction); without a rule, the list of rules.
 */
#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/cmd.h"
#include "txguard/error.h"
#include "txguard/rules.h"

#include <strings.h>

static const struct tg_opt_command usage = {
	"txguard explain [RULE...]",
	"Describe a rule, named by id (TX001) or name (double-transaction):\n"
	"what it catches, why it hurts in production, wrong and right code,\n"
	"the fix and how to suppress it. Without a rule, list every rule.",
	-1,
};

static const struct tg_rule *lookup(const char *arg)
{
	size_t n;
	const struct tg_rule *rules = tg_rules_all(&n);
	const struct tg_rule *r = tg_rules_lookup(arg);

	for (size_t i = 0; !r && i < n; i++)
		if (!strcasecmp(rules[i].name, arg))
			r = &rules[i];
	return r;
}

int cmd_explain(int argc, const char **argv)
{
	const char **args = NULL;
	int nargs, err, ret = TG_EXIT_OK;

	if ((err = tg_opt_parse(&args, &nargs, argc, argv, NULL, 0,
				&usage)) != 0)
		return err == TG_OPT_HELP ?
			       TG_EXIT_OK :
			       tg_cmd_usage_error("explain", tg_error_last());
	if (!nargs) {
		size_t n;
		const struct tg_rule *rules = tg_rules_all(&n);

		for (size_t i = 0; i < n; i++)
			printf("%s  %-26s %-8s %s%s\n", rules[i].id, rules[i].name,
			       tg_severity_name(rules[i].severity),
			       rules[i].summary,
			       tg_analyze_implements(rules[i].id) ? "" :
								    " (not checked yet)");
		printf("\nrun 'txguard explain RULE' (an id or a name) for details\n");
		goto out;
	}
	for (int i = 0; i < nargs; i++) {
		const struct tg_rule *r = lookup(args[i]);

		if (!r) {
			char msg[256];

			snprintf(msg, sizeof(msg),
				 "unknown rule '%.200s' (run 'txguard explain' for the list)",
				 args[i]);
			ret = tg_cmd_usage_error("explain", msg);
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
