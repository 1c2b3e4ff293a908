/*
 * watch.c: the watchdog of watch.h. Each watched thread owns a slot with
 * the start time of its current read (0: none); one detached thread
 * looks at the slots every 100 ms.
 */
#include "txguard/common.h"
#include "txguard/watch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define NSLOTS 16

struct slot {
	_Atomic int64_t since; /* ms, CLOCK_MONOTONIC; 0: not reading */
	char what[128];
};

static struct slot slots[NSLOTS];
static atomic_int nused;
static _Thread_local struct slot *mine;
static _Thread_local bool no_slot;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int64_t bound_ms;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *watchdog(void *arg)
{
	const struct timespec tick = { 0, 100 * 1000000L };

	(void)arg;
	for (;;) {
		int n = atomic_load(&nused);

		nanosleep(&tick, NULL);
		for (int i = 0; i < n && i < NSLOTS; i++) {
			int64_t since = atomic_load(&slots[i].since);
			char msg[512];
			int len;

			if (!since || now_ms() - since < bound_ms)
				continue;
			len = snprintf(msg, sizeof(msg),
				       "txguard: %s did not finish in %lld s: the object is probably damaged (libgit2 1.5 never returns on a truncated loose object); 'git fsck' names it\n"
				       "hint: 'git commit --no-verify' skips the hook once\n",
				       slots[i].what,
				       (long long)(bound_ms / 1000));
			if (len > 0)
				(void)!write(2, msg,
					     (size_t)len < sizeof(msg) ?
						     (size_t)len :
						     sizeof(msg) - 1);
			_exit(2); /* TG_EXIT_ERROR: the read never returns */
		}
	}
	return NULL;
}

static void start(void)
{
	const char *v = getenv("TXGUARD_READ_TIMEOUT");
	char *end;
	long s = v && *v ? strtol(v, &end, 10) : 0;
	pthread_attr_t attr;
	pthread_t th;

	bound_ms = (v && *v && !*end && s > 0 ? s : 60) * 1000LL;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* no watchdog, no bound: the reads still work */
	(void)pthread_create(&th, &attr, watchdog, NULL);
	pthread_attr_destroy(&attr);
}

void tg_watch_begin(const char *what, const unsigned char *oid)
{
	int i;

	if (!mine && !no_slot) {
		pthread_once(&once, start);
		i = atomic_fetch_add(&nused, 1);
		if (i < NSLOTS)
			mine = &slots[i];
		else
			no_slot = true;
	}
	if (!mine)
		return;
	if (oid) {
		static const char hex[] = "0123456789abcdef";
		char h[TG_OID_HEXSZ + 1];

		for (int k = 0; k < TG_OID_RAWSZ; k++) {
			h[2 * k] = hex[oid[k] >> 4];
			h[2 * k + 1] = hex[oid[k] & 15];
		}
		h[TG_OID_HEXSZ] = '\0';
		snprintf(mine->what, sizeof(mine->what), "%s %s", what, h);
	} else {
		snprintf(mine->what, sizeof(mine->what), "%s", what);
	}
	atomic_store(&mine->since, now_ms());
}

void tg_watch_end(void)
{
	if (mine)
		atomic_store(&mine->since, 0);
}
