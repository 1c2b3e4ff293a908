/**
 * out.h: the report formats, one writer a file (out_FORMAT.c), chosen by
 * tg_out_write(). The writers share out_render.c and never call back
 * here. Writers return 0, or TG_EIO when the stream failed.
 */
#ifndef TXGUARD_OUT_H
#define TXGUARD_OUT_H

#include "txguard/common.h"

struct tg_report;

enum tg_format {
	TG_FORMAT_TEXT,
	TG_FORMAT_CONCISE,
	TG_FORMAT_JSON,
	TG_FORMAT_SARIF,
	TG_FORMAT_GITHUB,
	TG_FORMAT_GITLAB,
};

struct tg_out_opts {
	enum tg_format format;
	bool color;
	bool all;   /* also show findings that are not new */
	bool quiet; /* text: findings only, no summary when nothing was found */
	bool staged; /* the verdict speaks of the commit (the hook) */
	/* inside a hook, how to skip it once ("git commit --no-verify"); NULL otherwise */
	const char *skip_hint;
	/*
	 * text and concise: the current directory relative to the top of
	 * the work tree, with a trailing '/' ("backend/"), so paths are
	 * shown relative to it as git shows them; NULL or "" at the top.
	 */
	const char *cwd_prefix;
};

int tg_out_write(FILE *fp, const struct tg_report *r,
		 const struct tg_out_opts *opts);
/** Source excerpt, owner and help for each finding, then a summary line. */
int tg_out_text(FILE *fp, const struct tg_report *r,
		const struct tg_out_opts *opts);
/** `path:line:col: RULE message`, one line a finding, then the summary line. */
int tg_out_concise(FILE *fp, const struct tg_report *r,
		   const struct tg_out_opts *opts);
int tg_out_json(FILE *fp, const struct tg_report *r,
		const struct tg_out_opts *opts);
/** SARIF 2.1.0; every finding, non-new ones with `suppressions`. */
int tg_out_sarif(FILE *fp, const struct tg_report *r,
		 const struct tg_out_opts *opts);
/** GitHub Actions annotations for new findings (all with opts->all). */
int tg_out_github(FILE *fp, const struct tg_report *r,
		  const struct tg_out_opts *opts);
/** A GitLab code-quality report: new findings (all with opts->all). */
int tg_out_gitlab(FILE *fp, const struct tg_report *r,
		  const struct tg_out_opts *opts);

/** Parse a --format value. -1 if unknown. */
int tg_format_parse(const char *s);

#endif
