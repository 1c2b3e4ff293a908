#include "txguard/common.h"
#include "txguard/cmd.h"
#include "txguard/config.h"
#include "txguard/error.h"
#include "txguard/owners.h"

#include <errno.h>
#include <unistd.h>

int tg_die_with_hint(const char *msg)
{
	fprintf(stderr, "txguard: %s\n", msg);
	fprintf(stderr, "hint: 'git commit --no-verify' skips the hook once\n");
	return TG_EXIT_ERROR;
}

int tg_die_usage(const char *cmd, const char *msg)
{
	fprintf(stderr, "txguard: %s\n", msg);
	fprintf(stderr, "see 'txguard %s --help'\n", cmd ? cmd : "");
	fprintf(stderr, "hint: 'git commit --no-verify' skips the hook once\n");
	return TG_EXIT_ERROR;
}

int tg_common_opts_resolve(struct tg_out_opts *out, int *fail_on,
			   const struct tg_common_opts *c)
{
	const char *color = c->color ? c->color : "auto";
	int f;

	memset(out, 0, sizeof(*out));
	*fail_on = -1;
	f = c->format ? tg_format_parse(c->format) : TG_FORMAT_TEXT;
	if (f < 0)
		return tg_error_set(TG_EUSAGE,
				    "unknown format '%s' (expected text or json)",
				    c->format);
	out->format = (enum tg_format)f;
	if (c->fail_on) {
		*fail_on = tg_severity_parse(c->fail_on);
		if (*fail_on < 0)
			return tg_error_set(TG_EUSAGE,
					    "bad --fail-on '%s' (expected critical, high, medium, low or never)",
					    c->fail_on);
	}
	if (!strcmp(color, "always")) {
		out->color = true;
	} else if (!strcmp(color, "never")) {
		out->color = false;
	} else if (!strcmp(color, "auto")) {
		const char *nc = getenv("NO_COLOR");

		/* https://no-color.org: any non-empty NO_COLOR disables */
		out->color = !c->output && !(nc && *nc) && isatty(1);
	} else {
		return tg_error_set(TG_EUSAGE,
				    "bad --color '%s' (expected auto, always or never)",
				    color);
	}
	out->all = c->all;
	out->quiet = c->quiet;
	return 0;
}

int tg_common_open_output(FILE **fp, const struct tg_common_opts *c)
{
	*fp = stdout;
	if (!c->output || !strcmp(c->output, "-"))
		return 0;
	*fp = fopen(c->output, "w");
	if (!*fp)
		return tg_error_set(TG_EIO, "cannot write '%s': %s", c->output,
				    strerror(errno));
	return 0;
}

int tg_common_close_output(FILE *fp, const struct tg_common_opts *c)
{
	bool failed = ferror(fp) != 0;

	if (fp == stdout) {
		if (fflush(fp) != 0 || failed)
			return tg_error_set(TG_EIO,
					    "cannot write the report to standard output");
		return 0;
	}
	if (fclose(fp) != 0 || failed)
		return tg_error_set(TG_EIO, "cannot write '%s'", c->output);
	return 0;
}

void tg_owners_from_config(struct tg_owners *o, const struct tg_config *cfg)
{
	for (size_t i = 0; i < cfg->nowners; i++)
		tg_owners_add_owner(o, cfg->owners[i], TG_OWNER_CONFIGURED,
				    ".txguard", "configured owner: commits on exit");
	for (size_t i = 0; i < cfg->nfactories; i++)
		tg_owners_add_factory(o, cfg->factories[i],
				      TG_OWNER_CONFIGURED, ".txguard");
}
