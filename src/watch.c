/*
 * watch.c: the watchdog of watch.h. Each watched thread owns a slot with
 * the start time of its current read (0: none); one thread looks at the
 * slots every 100 ms, and is woken and joined at exit so that it never
 * outlives the program (nor delays its end).
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
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static bool stopping;
static pthread_t dog;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *watchdog(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!stopping) {
		int n = atomic_load(&nused);
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += 100 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&wake, &mu, &until);
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
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void stop(void)
{
	pthread_mutex_lock(&mu);
	stopping = true;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&mu);
	pthread_join(dog, NULL);
}

static void start(void)
{
	const char *v = getenv("TXGUARD_READ_TIMEOUT");
	char *end;
	long s = v && *v ? strtol(v, &end, 10) : 0;
	pthread_condattr_t ca;

	bound_ms = (v && *v && !*end && s > 0 ? s : 60) * 1000LL;
	/* the same clock as the slots', which jumps of the wall clock
	 * cannot fool */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&wake);
	pthread_cond_init(&wake, &ca);
	pthread_condattr_destroy(&ca);
	/* no watchdog, no bound: the reads still work */
	if (!pthread_create(&dog, NULL, watchdog, NULL))
		atexit(stop);
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
