#include "txguard/common.h"
#include "txguard/error.h"
#include "txguard/opt.h"

static const struct tg_option *find_long(const struct tg_option *opts,
					 size_t nopts, const char *name,
					 size_t len)
{
	for (size_t i = 0; i < nopts; i++)
		if (strlen(opts[i].long_name) == len &&
		    !strncmp(opts[i].long_name, name, len))
			return &opts[i];
	return NULL;
}

static const struct tg_option *find_short(const struct tg_option *opts,
					  size_t nopts, char c)
{
	for (size_t i = 0; i < nopts; i++)
		if (opts[i].short_name && opts[i].short_name == c)
			return &opts[i];
	return NULL;
}

static int set_value(const struct tg_option *o, const char *arg,
		     const char *spelled)
{
	if (o->type == TG_OPT_FLAG) {
		if (arg)
			return tg_error_set(TG_EUSAGE,
					    "option '%s' takes no value",
					    spelled);
		*(bool *)o->value = true;
		return 0;
	}
	if (!arg)
		return tg_error_set(TG_EUSAGE, "option '%s' needs a value",
				    spelled);
	*(const char **)o->value = arg;
	return 0;
}

static void usage(FILE *fp, const struct tg_opt_command *cmd,
		  const struct tg_option *opts, size_t nopts)
{
	fprintf(fp, "usage: %s\n", cmd->usage);
	if (cmd->description)
		fprintf(fp, "\n%s\n", cmd->description);
	fputs("\noptions:\n", fp);
	for (size_t i = 0; i < nopts; i++) {
		const struct tg_option *o = &opts[i];
		char left[64];

		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s",
				 o->short_name, o->long_name,
				 o->argname ? " " : "",
				 o->argname ? o->argname : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s",
				 o->long_name, o->argname ? " " : "",
				 o->argname ? o->argname : "");
		fprintf(fp, "  %-28s %s\n", left, o->help);
	}
	fprintf(fp, "  %-28s %s\n", "-h, --help", "show this help");
}

int tg_opt_parse(const char ***rest, int *nrest, int argc, const char **argv,
		 const struct tg_option *opts, size_t nopts,
		 const struct tg_opt_command *cmd)
{
	const char **out = tg_xcalloc((size_t)argc + 1, sizeof(*out));
	int n = 0, err = 0;
	bool only_args = false, help = false;

	*rest = NULL;
	*nrest = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct tg_option *o;
		const char *arg = NULL;

		if (only_args || a[0] != '-' || !a[1]) {
			out[n++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_args = true;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			help = true;
			continue;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);

			o = find_long(opts, nopts, a + 2, len);
			if (!o) {
				err = tg_error_set(TG_EUSAGE,
						   "unknown option '%.*s'",
						   (int)len + 2, a);
				goto out;
			}
			if (eq)
				arg = eq + 1;
		} else {
			o = find_short(opts, nopts, a[1]);
			if (!o || (a[2] && o->type != TG_OPT_STRING)) {
				err = tg_error_set(TG_EUSAGE,
						   "unknown option '%s'", a);
				goto out;
			}
			if (a[2])
				arg = a + 2; /* -j2, -oFILE */
		}
		if (o->type == TG_OPT_STRING && !arg) {
			if (i + 1 >= argc) {
				err = tg_error_set(TG_EUSAGE,
						   "option '%s' needs a value",
						   a);
				goto out;
			}
			arg = argv[++i];
		}
		if ((err = set_value(o, arg, a)) < 0)
			goto out;
	}
	if (help) {
		usage(stdout, cmd, opts, nopts);
		err = TG_OPT_HELP;
		goto out;
	}
	if (cmd->max_args >= 0 && n > cmd->max_args) {
		err = tg_error_set(TG_EUSAGE, "unexpected argument '%s'",
				   out[cmd->max_args]);
		goto out;
	}
	*rest = out;
	*nrest = n;
	out = NULL;
out:
	free(out);
	return err;
}
