/**
 * out.h: output writers, one format per file, behind tg_out_write().
 * Writers return 0, or TG_EIO when the stream failed.
 */
#ifndef TXGUARD_OUT_H
#define TXGUARD_OUT_H

#include "txguard/common.h"

struct tg_report;

enum tg_format {
	TG_FORMAT_TEXT,
	TG_FORMAT_JSON,
	TG_FORMAT_SARIF,
	TG_FORMAT_GITHUB,
};

struct tg_out_opts {
	enum tg_format format;
	bool color;
	bool all;   /* also show findings that are not new */
	bool quiet; /* text: findings only, no summary when nothing was found */
	bool staged; /* the verdict speaks of the commit (the hook) */
};

int tg_out_write(FILE *fp, const struct tg_report *r,
		 const struct tg_out_opts *opts);
int tg_out_text(FILE *fp, const struct tg_report *r,
		const struct tg_out_opts *opts);
int tg_out_json(FILE *fp, const struct tg_report *r,
		const struct tg_out_opts *opts);
/** SARIF 2.1.0; every finding, non-new ones with `suppressions`. */
int tg_out_sarif(FILE *fp, const struct tg_report *r,
		 const struct tg_out_opts *opts);
/** GitHub Actions annotations for new findings (all with opts->all). */
int tg_out_github(FILE *fp, const struct tg_report *r,
		  const struct tg_out_opts *opts);

struct json_t;

/**
 * Write `root` (jansson, indented by 2, keys in order) followed by a
 * newline, with the array of `n` items that item() makes in place of
 * the member `key` of `parent` (an object inside root). Each item is
 * written and freed before the next is made, so a report of many
 * findings is never held twice as a document. Takes `root`. Returns 0,
 * or TG_EIO (set) when the stream failed; `what` names the report.
 */
int tg_out_json_stream(FILE *fp, struct json_t *root, struct json_t *parent,
		       const char *key,
		       struct json_t *(*item)(void *ctx, size_t i), void *ctx,
		       size_t n, const char *what);

/** Parse a --format value. -1 if unknown. */
int tg_format_parse(const char *s);

#endif
