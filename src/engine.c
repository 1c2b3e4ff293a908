/*
 * The per-file pipeline (SPEC §4), wired once for every mode:
 *
 *   new blob → parse → units, mark changed → rules → fingerprints
 *   old blob (same or rename-source path) → the same units → rules
 *   → new findings that match an old one by fingerprint, by count, are
 *     pre-existing → report
 *
 * Files are handled one at a time and freed before the next, so memory
 * follows the largest file, not the change.
 */
#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/config.h"
#include "txguard/diff.h"
#include "txguard/engine.h"
#include "txguard/error.h"
#include "txguard/finding.h"
#include "txguard/pyparse.h"
#include "txguard/repo.h"
#include "txguard/report.h"
#include "txguard/units.h"

static const struct tg_oid zero_oid;

static void attach_snippets(struct tg_findings *list, size_t from,
			    const struct tg_pyfile *py)
{
	for (size_t i = from; i < list->nr; i++) {
		struct tg_finding *f = &list->v[i];
		size_t len;
		const char *line = tg_pyfile_line(py, f->line, &len);

		if (line && !f->snippet)
			f->snippet = tg_xstrndup(line, len);
	}
}

/*
 * The pre-image: analyse the old blob's units that carry the qualified
 * name of a changed new unit, under the new path so that fingerprints
 * (which include the path) line up across renames (SPEC §3).
 */
static int preimage_findings(struct tg_findings *out, const char *path,
			     const char *old, size_t old_len,
			     const struct tg_units *cur_units,
			     const struct tg_analyze_opts *aopts)
{
	struct tg_pyfile *py = NULL;
	struct tg_units units = TG_UNITS_INIT;
	int err;

	err = tg_pyfile_parse(&py, path, old, old_len);
	if (err == TG_EBINARY)
		return 0; /* binary before: everything in it now is new */
	if (err < 0)
		goto out;
	if ((err = tg_units_load(&units, py)) < 0)
		goto out;
	for (size_t i = 0; i < cur_units->nr; i++) {
		long j;

		if (!cur_units->v[i].changed)
			continue;
		j = tg_units_find(&units, cur_units->v[i].qualname);
		if (j >= 0)
			units.v[j].changed = true;
	}
	err = tg_analyze(out, py, &units, aopts);
out:
	tg_units_release(&units);
	tg_pyfile_free(py);
	return err;
}

static int run_file(struct tg_report *r, const char *path, const char *src,
		    size_t len, const char *old, size_t old_len,
		    const struct tg_hunk *hunks, size_t nhunks, bool whole,
		    const struct tg_engine_opts *opts)
{
	struct tg_pyfile *py = NULL;
	struct tg_units units = TG_UNITS_INIT;
	struct tg_findings cur = TG_FINDINGS_INIT, prev = TG_FINDINGS_INIT;
	struct tg_analyze_opts aopts = { 0 };
	size_t changed = 0;
	int err;

	aopts.owners = opts->owners;
	err = tg_pyfile_parse(&py, path, src, len);
	if (err == TG_EBINARY) {
		r->skipped.binary++;
		err = 0;
		goto out;
	}
	if (err < 0)
		goto out;
	r->files_checked++;
	if (py->has_errors) {
		r->partial_files++;
		tg_report_notice(r,
				 "%s: syntax errors; only the parts whose structure is clear were analysed",
				 path);
	}
	if ((err = tg_units_load(&units, py)) < 0)
		goto out;
	if (whole)
		tg_units_mark_all(&units);
	else
		tg_units_mark_changed(&units, hunks, nhunks);
	for (size_t i = 0; i < units.nr; i++)
		changed += units.v[i].changed;
	r->units_checked += changed;
	if (!changed)
		goto out;
	if ((err = tg_analyze(&cur, py, &units, &aopts)) < 0)
		goto out;
	attach_snippets(&cur, 0, py);
	if (old && cur.nr) {
		err = preimage_findings(&prev, path, old, old_len, &units,
					&aopts);
		if (err < 0)
			goto out;
		tg_findings_match_preimage(&cur, &prev);
	}
	tg_findings_move(&r->findings, &cur);
out:
	tg_findings_release(&prev);
	tg_findings_release(&cur);
	tg_units_release(&units);
	tg_pyfile_free(py);
	return err;
}

/*
 * Read a blob unless it is over the configured size limit, which skips
 * the file with a notice (SPEC §8 maxFileSize). *out stays NULL then.
 */
static int read_limited(char **out, size_t *len, bool *too_large,
			struct tg_repo *repo, const struct tg_oid *id,
			size_t limit)
{
	size_t size;
	int err;

	*out = NULL;
	*too_large = false;
	if ((err = tg_repo_blob_size(&size, repo, id)) < 0)
		return err;
	if (limit && size > limit) {
		*too_large = true;
		return 0;
	}
	return tg_repo_read_blob(out, len, repo, id);
}

int tg_engine_run(struct tg_report *report, struct tg_repo *repo,
		  const struct tg_changeset *cs,
		  const struct tg_engine_opts *opts)
{
	size_t limit = opts->cfg ? opts->cfg->max_file_size : 0;
	int err = 0;

	for (size_t i = 0; i < cs->nr; i++) {
		const struct tg_change *ch = &cs->files[i];
		char *src = NULL, *old = NULL;
		size_t len = 0, old_len = 0;
		bool too_large, whole;

		err = read_limited(&src, &len, &too_large, repo, &ch->new_id,
				   limit);
		if (err < 0)
			goto fail;
		if (too_large) {
			report->skipped.too_large++;
			tg_report_notice(report,
					 "%s: skipped, larger than maxFileSize (%zu bytes)",
					 ch->path, limit);
			continue;
		}
		whole = ch->status == TG_CHANGE_ADDED ||
			ch->status == TG_CHANGE_WHOLE;
		if (!whole && ch->old_path &&
		    memcmp(&ch->old_id, &zero_oid, sizeof(zero_oid))) {
			err = read_limited(&old, &old_len, &too_large, repo,
					   &ch->old_id, limit);
			if (err < 0) {
				free(src);
				goto fail;
			}
		}
		err = run_file(report, ch->path, src, len, old, old_len,
			       ch->hunks, ch->nhunks, whole, opts);
		free(old);
		free(src);
		if (err < 0)
			goto fail;
	}
	return 0;
fail:
	return err;
}

int tg_engine_run_buffers(struct tg_report *report, const char *path,
			  const char *src, size_t len, const char *old,
			  size_t old_len, const struct tg_hunk *hunks,
			  size_t nhunks, const struct tg_engine_opts *opts)
{
	return run_file(report, path, src, len, old, old_len, hunks, nhunks,
			!hunks, opts);
}
