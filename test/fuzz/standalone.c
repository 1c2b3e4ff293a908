/*
 * Replay fuzz inputs without libFuzzer, so `make test` checks the corpus
 * and every regression input under the normal and the sanitizer build
 * Learned from libgit2's fuzzers/standalone_driver.c.
 *
 *   replay [-n] [-t SECONDS] PATH...
 *
 * Each PATH is a file or a directory (read recursively, in name order).
 * Every input runs in a child process so that a crash or a timeout is
 * reported as "not ok N - path" and the remaining inputs still run; -n
 * runs them in this process instead (for a debugger). Prints TAP lines
 * and exits 1 if any input failed, 2 on a usage or I/O error.
 */
#include "txguard/common.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target: libFuzzer calls it once before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

struct replay {
	bool fork;
	unsigned timeout;
	unsigned n, failed;
};

static int read_file(uint8_t **out, size_t *len, const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t alloc = 0, nr = 0, got;

	*out = NULL;
	*len = 0;
	if (!fp)
		return -1;
	do {
		TG_ALLOC_GROW(buf, nr + 65536, alloc);
		got = fread(buf + nr, 1, alloc - nr, fp);
		nr += got;
	} while (got);
	if (ferror(fp)) {
		fclose(fp);
		free(buf);
		return -1;
	}
	fclose(fp);
	/*
	 * Hand the target an exact-size copy, as libFuzzer does, so that
	 * ASan catches a read one byte past the input.
	 */
	*out = tg_xmalloc(nr ? nr : 1);
	memcpy(*out, buf, nr);
	free(buf);
	*len = nr;
	return 0;
}

static void run_one_here(const char *path)
{
	uint8_t *data;
	size_t len;

	if (read_file(&data, &len, path) < 0) {
		fprintf(stderr, "replay: cannot read '%s': %s\n", path,
			strerror(errno));
		exit(2);
	}
	LLVMFuzzerTestOneInput(data, len);
	free(data);
}

static void report(struct replay *r, const char *path, const char *why)
{
	r->n++;
	if (why) {
		r->failed++;
		printf("not ok %u - %s # %s\n", r->n, path, why);
	} else {
		printf("ok %u - %s\n", r->n, path);
	}
	fflush(stdout);
}

static void run_one(struct replay *r, const char *path)
{
	char why[64];
	pid_t pid;
	int status;

	if (!r->fork) {
		run_one_here(path);
		report(r, path, NULL);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("replay: fork");
		exit(2);
	}
	if (!pid) {
		if (r->timeout)
			alarm(r->timeout);
		run_one_here(path);
		exit(0); /* not _exit: LeakSanitizer runs at exit */
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			perror("replay: waitpid");
			exit(2);
		}
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		report(r, path, NULL);
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		report(r, path, "timeout");
	else if (WIFSIGNALED(status)) {
		snprintf(why, sizeof(why), "killed by signal %d",
			 WTERMSIG(status));
		report(r, path, why);
	} else {
		snprintf(why, sizeof(why), "exit status %d",
			 WEXITSTATUS(status));
		report(r, path, why);
	}
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(struct replay *r, const char *path)
{
	struct stat st;
	DIR *dir;
	struct dirent *de;
	char **names = NULL;
	size_t nr = 0, alloc = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: '%s': %s\n", path, strerror(errno));
		exit(2);
	}
	if (!S_ISDIR(st.st_mode)) {
		run_one(r, path);
		return;
	}
	if (!(dir = opendir(path))) {
		fprintf(stderr, "replay: '%s': %s\n", path, strerror(errno));
		exit(2);
	}
	while ((de = readdir(dir))) {
		/* dot files: .gitignore, .gitkeep, editor droppings */
		if (de->d_name[0] == '.')
			continue;
		TG_ALLOC_GROW(names, nr + 1, alloc);
		names[nr++] = tg_xasprintf("%s%s%s", path,
					   path[strlen(path) - 1] == '/' ? "" : "/",
					   de->d_name);
	}
	closedir(dir);
	/* name order: the TAP numbering is the same on every machine */
	if (nr > 1)
		qsort(names, nr, sizeof(*names), cmp_names);
	for (size_t i = 0; i < nr; i++) {
		run_path(r, names[i]);
		free(names[i]);
	}
	free(names);
}

static void usage(void)
{
	fprintf(stderr, "usage: replay [-n] [-t SECONDS] PATH...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct replay r = { .fork = true, .timeout = 0 };
	int opt;

	while ((opt = getopt(argc, argv, "nt:")) != -1) {
		switch (opt) {
		case 'n':
			r.fork = false;
			break;
		case 't':
			r.timeout = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = optind; i < argc; i++)
		run_path(&r, argv[i]);
	printf("1..%u\n", r.n);
	if (r.failed)
		fprintf(stderr, "replay: %u of %u inputs failed\n", r.failed,
			r.n);
	return r.failed ? 1 : 0;
}
