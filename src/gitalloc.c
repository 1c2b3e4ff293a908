/*
 * gitalloc.c: an allocator for libgit2 that counts its live heap.
 *
 * libgit2 keeps what it inflates in caches it frees only with their
 * owner; counting its heap lets the blob readers of repo.c drop those
 * caches once they have grown (see recycle_odb() there). The counts use
 * malloc_usable_size(), so every block is counted as glibc sized it.
 */
#include "txguard/common.h"
#include "txguard/error.h"
#include "txguard/gitalloc.h"

#include <malloc.h>

#include <git2.h>
#include <git2/sys/alloc.h>

/*
 * libgit2's live heap in bytes, counted by the allocator that
 * tg_gitalloc_install() installs (0 and never changing without it).
 * Signed: memory libgit2 allocated is sometimes freed by others.
 */
static int64_t git_heap;

static void *counted(void *p)
{
	if (p)
		__atomic_add_fetch(&git_heap, (int64_t)malloc_usable_size(p),
				   __ATOMIC_RELAXED);
	else
		git_error_set_oom();
	return p;
}

static void uncount(void *p)
{
	if (p)
		__atomic_sub_fetch(&git_heap, (int64_t)malloc_usable_size(p),
				   __ATOMIC_RELAXED);
}

static void *count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return counted(malloc(n ? n : 1));
}

static void *count_calloc(size_t nelem, size_t elsize, const char *file,
			  int line)
{
	(void)file;
	(void)line;
	return counted(calloc(nelem ? nelem : 1, elsize ? elsize : 1));
}

static char *count_strdup(const char *str, const char *file, int line)
{
	(void)file;
	(void)line;
	return counted(strdup(str));
}

static char *count_strndup(const char *str, size_t n, const char *file,
			   int line)
{
	(void)file;
	(void)line;
	return counted(strndup(str, n));
}

static char *count_substrdup(const char *str, size_t n, const char *file,
			     int line)
{
	char *p;

	(void)file;
	(void)line;
	if (n == SIZE_MAX || !(p = counted(malloc(n + 1))))
		return NULL;
	memcpy(p, str, n);
	p[n] = '\0';
	return p;
}

static void *count_realloc(void *ptr, size_t size, const char *file, int line)
{
	size_t old = ptr ? malloc_usable_size(ptr) : 0;
	void *p;

	(void)file;
	(void)line;
	if (!(p = realloc(ptr, size ? size : 1))) {
		git_error_set_oom();
		return NULL;
	}
	__atomic_add_fetch(&git_heap,
			   (int64_t)malloc_usable_size(p) - (int64_t)old,
			   __ATOMIC_RELAXED);
	return p;
}

static void *count_reallocarray(void *ptr, size_t nelem, size_t elsize,
				const char *file, int line)
{
	if (elsize && nelem > SIZE_MAX / elsize) {
		git_error_set_oom();
		return NULL;
	}
	return count_realloc(ptr, nelem * elsize, file, line);
}

static void *count_mallocarray(size_t nelem, size_t elsize, const char *file,
			       int line)
{
	return count_reallocarray(NULL, nelem, elsize, file, line);
}

static void count_free(void *ptr)
{
	uncount(ptr);
	free(ptr);
}

int tg_gitalloc_install(void)
{
	static git_allocator a = {
		count_malloc,	    count_calloc,      count_strdup,
		count_strndup,	    count_substrdup,   count_realloc,
		count_reallocarray, count_mallocarray, count_free,
	};

	if (git_libgit2_opts(GIT_OPT_SET_ALLOCATOR, &a) < 0)
		return tg_error_git("cannot set libgit2's allocator");
	return 0;
}

int64_t tg_gitalloc_heap(void)
{
	return __atomic_load_n(&git_heap, __ATOMIC_RELAXED);
}
