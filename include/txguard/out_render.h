/**
 * out_render.h: what the output writers share (the way a renderer family
 * shares one helper module): quoting paths for a terminal, escaping
 * text, making JSON strings from arbitrary bytes, streaming a JSON
 * document. The writers call these; nothing here calls a writer.
 */
#ifndef TXGUARD_OUT_RENDER_H
#define TXGUARD_OUT_RENDER_H

#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/finding.h"

struct json_t;
struct tg_out_opts;

/** "new", "pre-existing", "baselined" or "suppressed". */
const char *tg_out_status_name(enum tg_status s);

/**
 * Append a path as git prints one: unchanged when plain, otherwise in
 * double quotes with C escapes (\" \\ \a \b \f \n \r \t \v and \ooo
 * octal for every other control byte, DEL, both bytes of a C1 control,
 * and every byte of a name that is not valid UTF-8). A file name can
 * never forge an output line or drive a terminal.
 */
void tg_out_add_path(struct tg_buf *b, const char *path);

/**
 * Append `path` (repository-relative) as text output shows it: relative
 * to the current directory (opts->cwd_prefix, git's convention: `../x`
 * for a file outside it), quoted as tg_out_add_path().
 */
void tg_out_add_shown_path(struct tg_buf *b, const char *path,
			   const struct tg_out_opts *opts);

/**
 * Append free text (a message, a notice) with every control character
 * but newline and tab, DEL and the C1 controls written as \ooo octal
 * escapes (as in a quoted path); everything else is kept.
 */
void tg_out_add_text(struct tg_buf *b, const char *s);

/**
 * A JSON string for arbitrary bytes (jansson wants UTF-8): each invalid
 * byte becomes U+FFFD. NULL gives JSON null.
 */
struct json_t *tg_out_json_string(const char *s);

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

struct tg_report;

/**
 * Append the notices ("txguard: notice: ...", escaped) and the summary
 * line of the text formats: counts, what was compared, skipped files,
 * the verdict and, inside a hook that blocks, how to skip it.
 */
void tg_out_add_summary(struct tg_buf *b, const struct tg_report *r,
			const struct tg_out_opts *opts);

/** Write what `b` holds and empty it. 0, or TG_EIO (not set). */
int tg_out_flush(FILE *fp, struct tg_buf *b);

struct tg_finding;

/**
 * The text formats' one writer: each finding shown (new ones, or all
 * with --all) through `add`, flushed every 64 KiB, then the notices and
 * the summary (none when --quiet and there is nothing to say).
 * 0, or TG_EIO.
 */
int tg_out_lines(FILE *fp, const struct tg_report *r,
		 const struct tg_out_opts *opts,
		 void (*add)(struct tg_buf *b, const struct tg_finding *f,
			     const struct tg_out_opts *opts, void *ctx),
		 void *ctx);

#endif
