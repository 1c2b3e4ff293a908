#include "txguard/common.h"
#include "txguard/finding.h"

struct tg_finding *tg_findings_add(struct tg_findings *list)
{
	struct tg_finding *f;

	TG_ALLOC_GROW(list->v, list->nr + 1, list->alloc);
	f = &list->v[list->nr++];
	memset(f, 0, sizeof(*f));
	return f;
}

void tg_findings_move(struct tg_findings *to, struct tg_findings *from)
{
	if (!from->nr)
		return;
	TG_ALLOC_GROW(to->v, to->nr + from->nr, to->alloc);
	memcpy(to->v + to->nr, from->v, from->nr * sizeof(*from->v));
	to->nr += from->nr;
	from->nr = 0;
}

static int cmp_finding(const void *a_, const void *b_)
{
	const struct tg_finding *a = a_, *b = b_;
	int c = strcmp(a->path ? a->path : "", b->path ? b->path : "");

	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->column != b->column)
		return a->column < b->column ? -1 : 1;
	return strcmp(a->rule ? a->rule->id : "", b->rule ? b->rule->id : "");
}

void tg_findings_sort(struct tg_findings *list)
{
	if (list->nr > 1)
		qsort(list->v, list->nr, sizeof(*list->v), cmp_finding);
}

void tg_finding_release(struct tg_finding *f)
{
	if (!f)
		return;
	free(f->path);
	free(f->unit);
	free(f->message);
	free(f->help);
	free(f->owner);
	free(f->call_text);
	free(f->owner_text);
	free(f->snippet);
	memset(f, 0, sizeof(*f));
}

void tg_findings_release(struct tg_findings *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->nr; i++)
		tg_finding_release(&list->v[i]);
	free(list->v);
	memset(list, 0, sizeof(*list));
}

void tg_findings_match_preimage(struct tg_findings *cur,
				const struct tg_findings *old)
{
	bool *used;

	if (!old->nr)
		return;
	used = tg_xcalloc(old->nr, sizeof(*used));
	/* matching is by count, each old finding pairs at most once */
	for (size_t i = 0; i < cur->nr; i++) {
		struct tg_finding *f = &cur->v[i];

		if (f->status != TG_STATUS_NEW)
			continue;
		for (size_t j = 0; j < old->nr; j++) {
			if (used[j] ||
			    strcmp(f->fingerprint, old->v[j].fingerprint))
				continue;
			used[j] = true;
			f->status = TG_STATUS_PREEXISTING;
			break;
		}
	}
	free(used);
}
