/* matrix: setuid */
/* Issue 11, defect 6: in secure execution the library ignores its
 * environment, as glibc's secure_getenv does.
 *
 * Installed system-wide (/etc/ld.so.preload, which the dynamic linker
 * honours for setuid programs too), a library that reads PAIO_STATS=/path
 * as whoever runs the process lets an unprivileged user make a setuid-root
 * program create or append to any file. Here the program is a setuid-root
 * copy run by an unprivileged user (AT_SECURE is 1) with
 * PAIO_STATS=DIR/paio-stats-secure, where DIR belongs to root, mode 0755: the
 * user cannot create that file, so the library must not either.
 *
 * The program makes AIO requests (a file write and read, four pipe reads
 * pending at once, then fed), runs a second process of itself (exec, so the
 * setuid bit applies again and its library starts from its environment) that
 * does the same and exits normally, and then prints whether the stats file
 * exists. A third process runs with PAIO_STATS=1 (a line on stderr at exit,
 * where not in secure execution): its stderr must hold no stats line. Its own exit is checked by the harness (matrix.rs looks for the
 * file after the run). More PAIO_* settings are added when absent, each
 * harmful if honoured: PAIO_THREADS=1, PAIO_MAX_REQUESTS=1,
 * PAIO_NOTIFY_THREADS=1, PAIO_IDLE_MS=1, PAIO_SYNC_WRITE_MAX=1.
 *
 * Environment (matrix.rs): TMPDIR=DIR, PAIO_STATS, MATRIX_USER_UID,
 * PAIO_BACKEND for one paio run; the paio runs use a copy linked with -lpaio
 * (the dynamic linker ignores LD_PRELOAD paths in secure execution). Run by
 * hand: as root, `cp prog /tmp/p && chmod 4755 /tmp/p && mkdir -m 755 /tmp/d
 * && setpriv --reuid=65534 --regid=65534 --clear-groups env
 * PAIO_STATS=/tmp/d/paio-stats-secure /tmp/p /tmp/d`. Without secure
 * execution (not setuid, or run by root) the program skips.
 *
 * Usage: prog DIR [child]
 */
#include <sys/auxv.h>
#include "../common.h"

#define PIPES 4

static const char *dir;

/* Requests a library must accept and complete whatever PAIO_* says. */
static void do_aio(const char *who)
{
	int fd = tmp_file_in(dir, "secure-data");
	static char data[8192], back[8192];
	aio_write_read_back(fd, data, back, sizeof data, 3);
	close(fd);

	int p[PIPES][2];
	char got[PIPES];
	struct aiocb cbs[PIPES];
	int accepted = 0;
	for (int i = 0; i < PIPES; i++) {
		CHECK(pipe2(p[i], O_CLOEXEC) == 0);
		prep(&cbs[i], p[i][0], &got[i], 1, 0, LIO_READ);
		errno = 0;
		if (aio_read(&cbs[i]) == 0)
			accepted++;
		else
			FAIL("%s: pending pipe read #%d refused: %s", who, i, errname(errno));
	}
	for (int i = 0; i < PIPES; i++) {
		char b = (char)('a' + i);
		must_write(p[i][1], &b, 1);
	}
	int right = 0;
	for (int i = 0; i < PIPES; i++) {
		EXPECT_DONE(&cbs[i], 1);
		right += got[i] == 'a' + i;
		close(p[i][0]);
		close(p[i][1]);
	}
	printf("%s: file write and read ok; %d pending pipe reads accepted, %d "
	       "completed with the right byte\n", who, accepted, right);
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Run this program again as "child" (exec, so the setuid bit applies and
 * the library starts from the environment); with err, its stderr is
 * collected there (NUL-terminated) instead of passed through. */
static void run_child(const char *self, char err[4096])
{
	int p[2] = { -1, -1 };
	if (err != NULL)
		CHECK(pipe2(p, O_CLOEXEC) == 0);
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (err != NULL && dup2(p[1], 2) != 2)
			_exit(126);
		char *args[] = { (char *)self, (char *)dir, "child", NULL };
		execv("/proc/self/exe", args);
		fprintf(stderr, "exec /proc/self/exe: %s\n", strerror(errno));
		_exit(127);
	}
	if (err != NULL) {
		close(p[1]);
		size_t got = 0;
		ssize_t n;
		while (got < 4095 && (n = read(p[0], err + got, 4095 - got)) > 0)
			got += (size_t)n;
		err[got] = '\0';
		close(p[0]);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("the child process ended with status %#x%s%s", status,
		     err != NULL ? "; its stderr:\n" : "", err != NULL ? err : "");
}

int main(int argc, char **argv)
{
	if (argc < 2)
		FAIL("usage: %s DIR [child]", argv[0]);
	dir = argv[1];
	int child = argc > 2 && strcmp(argv[2], "child") == 0;

	if (getauxval(AT_SECURE) == 0)
		skip("not in secure-execution mode (run it setuid-root as another user)");
	if (child) {
		do_aio("child");
		return 0; /* exit(): where a library writes its stats */
	}
	printf("secure execution: yes\n");

	char stats[PATH_MAX];
	const char *given = getenv("PAIO_STATS");
	if (given != NULL && given[0] == '/') {
		snprintf(stats, sizeof stats, "%s", given);
	} else {
		snprintf(stats, sizeof stats, "%s/paio-stats-secure", dir);
		CHECK(setenv("PAIO_STATS", stats, 1) == 0);
	}
	printf("~PAIO_STATS=%s\n", stats);
	if (exists(stats))
		FAIL("%s exists before the run", stats);
	static const char *const harmful[][2] = {
		{ "PAIO_THREADS", "1" },	{ "PAIO_MAX_REQUESTS", "1" },
		{ "PAIO_NOTIFY_THREADS", "1" }, { "PAIO_IDLE_MS", "1" },
		{ "PAIO_SYNC_WRITE_MAX", "1" },
	};
	for (size_t i = 0; i < sizeof harmful / sizeof harmful[0]; i++)
		CHECK(setenv(harmful[i][0], harmful[i][1], 0) == 0);

	do_aio("parent");

	run_child(argv[0], NULL);
	int created = exists(stats);
	printf("stats file created after a process exited: %s\n", created ? "yes" : "no");
	/* PAIO_STATS=1 asks for the line on stderr: not in secure execution. */
	CHECK(setenv("PAIO_STATS", "1", 1) == 0);
	char err[4096];
	run_child(argv[0], err);
	int line = strstr(err, "paio:") != NULL;
	printf("with PAIO_STATS=1, stats line on stderr: %s\n", line ? "yes" : "no");
	if (line)
		fprintf(stderr, "a stats line was printed in secure execution:\n%s", err);
	if (created) {
		struct stat st;
		CHECK(lstat(stats, &st) == 0);
		fprintf(stderr, "%s was created (owner uid %u, mode %o) from PAIO_STATS "
			"in secure execution\n", stats, (unsigned)st.st_uid,
			(unsigned)(st.st_mode & 07777));
	}
	return created || line;
}
