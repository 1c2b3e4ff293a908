/* progress.c: progress on stderr when it is a terminal (progress.h). */
#include "txguard/common.h"
#include "txguard/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct tg_progress {
	char *title;
	uint64_t total, last_n;
	double start, next; /* seconds: when it started, when to redraw */
	double delay;
	int last_percent;
	bool shown;
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct tg_progress *tg_progress_start(const char *title, uint64_t total)
{
	struct tg_progress *p;
	const char *d = getenv("TXGUARD_PROGRESS_DELAY");

	if (!isatty(2))
		return NULL;
	p = tg_xcalloc(1, sizeof(*p));
	p->title = tg_xstrdup(title);
	p->total = total;
	p->delay = d && *d ? atof(d) : 1.0;
	p->start = now_seconds();
	p->next = p->start + p->delay;
	p->last_percent = -1;
	return p;
}

static void draw(struct tg_progress *p, uint64_t n, const char *end)
{
	if (p->total) {
		uint64_t total = n > p->total ? n : p->total;
		int percent = (int)(n * 100 / total);

		fprintf(stderr, "\r%s: %3d%% (%llu/%llu)%s", p->title, percent,
			(unsigned long long)n, (unsigned long long)total, end);
		p->last_percent = percent;
	} else {
		fprintf(stderr, "\r%s: %llu%s", p->title, (unsigned long long)n,
			end);
	}
	fflush(stderr);
	p->shown = true;
	p->last_n = n;
}

void tg_progress_update(struct tg_progress *p, uint64_t n)
{
	double t;

	if (!p)
		return;
	p->last_n = n;
	/* a clock read every 64 items at most keeps this cheap */
	if ((n & 63) && p->shown)
		return;
	t = now_seconds();
	if (t < p->next)
		return;
	draw(p, n, "");
	p->next = t + 0.1; /* at most ten redraws a second */
}

void tg_progress_stop(struct tg_progress *p)
{
	if (!p)
		return;
	if (!p->shown && now_seconds() >= p->start + p->delay)
		p->shown = true; /* it lasted: say so once */
	if (p->shown) {
		if (p->total)
			p->total = p->last_n > p->total ? p->last_n : p->total;
		draw(p, p->total ? p->total : p->last_n, ", done.\n");
	}
	free(p->title);
	free(p);
}

void tg_progress_abort(struct tg_progress *p)
{
	if (!p)
		return;
	if (p->shown)
		fputc('\n', stderr);
	free(p->title);
	free(p);
}
