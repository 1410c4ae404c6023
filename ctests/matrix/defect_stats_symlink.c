/* matrix: once */
/* Issue 11, defect 6 (second half): the stats file is never reached through
 * a symbolic link.
 *
 * PAIO_STATS=PATH makes paio append its exit line to PATH. When PATH is a
 * symlink (planted by someone else in a shared directory such as /tmp), the
 * library must not follow it (O_NOFOLLOW): neither append to the file it
 * points to nor create the file a dangling link names. glibc knows nothing
 * of PAIO_STATS and leaves both alone; paio must too.
 *
 * The program makes AIO requests itself (so the harness sees paio's exit
 * line in its own PAIO_STATS), then for each link runs a second process of
 * itself (exec, so its library reads PAIO_STATS=link at start) that makes
 * AIO requests and exits normally, and prints what became of the link's
 * target:
 * - a link to an existing file: the file keeps its contents;
 * - a dangling link: its target is not created;
 * and that each link is still a link.
 *
 * Usage: prog DIR [child]
 */
#include "../common.h"

static const char *dir;

static void do_aio(void)
{
	int fd = tmp_file_in(dir, "symlink-data");
	static char data[4096], back[4096];
	aio_write_read_back(fd, data, back, sizeof data, 4);
	close(fd);
}

/* Run this program as "child" with PAIO_STATS=stats. */
static void run_child(const char *self, const char *stats)
{
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (setenv("PAIO_STATS", stats, 1) != 0)
			_exit(126);
		char *args[] = { (char *)self, (char *)dir, "child", NULL };
		execv("/proc/self/exe", args);
		fprintf(stderr, "exec /proc/self/exe: %s\n", strerror(errno));
		_exit(127);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("the child process ended with status %#x", status);
}

static int is_link(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		FAIL("usage: %s DIR [child]", argv[0]);
	dir = argv[1];
	if (argc > 2 && strcmp(argv[2], "child") == 0) {
		do_aio();
		return 0; /* exit(): where the library writes its stats */
	}
	do_aio();

	static const char original[] = "original contents\n";
	char target[PATH_MAX], link1[PATH_MAX], absent[PATH_MAX], link2[PATH_MAX];
	snprintf(target, sizeof target, "%s/stats-target", dir);
	snprintf(link1, sizeof link1, "%s/stats-link", dir);
	snprintf(absent, sizeof absent, "%s/stats-absent-target", dir);
	snprintf(link2, sizeof link2, "%s/stats-dangling-link", dir);
	int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	must_write(fd, original, sizeof original - 1);
	CHECK(close(fd) == 0);
	CHECK(symlink(target, link1) == 0);
	CHECK(symlink(absent, link2) == 0);

	run_child(argv[0], link1);
	char back[256];
	fd = open(target, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	ssize_t n = read(fd, back, sizeof back);
	CHECK(n >= 0);
	close(fd);
	int untouched = n == (ssize_t)sizeof original - 1 &&
			memcmp(back, original, (size_t)n) == 0;
	printf("PAIO_STATS is a symlink to a file: target %s, link %s\n",
	       untouched ? "untouched" : "WRITTEN", is_link(link1) ? "kept" : "replaced");

	run_child(argv[0], link2);
	struct stat st;
	int created = lstat(absent, &st) == 0;
	printf("PAIO_STATS is a dangling symlink: target %s, link %s\n",
	       created ? "CREATED" : "not created", is_link(link2) ? "kept" : "replaced");

	if (!untouched)
		fprintf(stderr, "%s was written through the symlink %s: %zd bytes now\n",
			target, link1, n);
	if (created)
		fprintf(stderr, "%s was created through the dangling symlink %s\n",
			absent, link2);
	return untouched && !created && is_link(link1) && is_link(link2) ? 0 : 1;
}
