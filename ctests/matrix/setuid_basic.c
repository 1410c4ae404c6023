/* matrix: setuid */
/* A setuid-root program run by an unprivileged user (secure execution):
 * AIO works as usual, and the implementation takes nothing from the
 * environment: the harness points PAIO_STATS at a file in a directory only
 * root can write, and that file must never appear (checked here after a
 * child that used AIO exited, and by the harness after this process). */
#include "matrix.h"
#include <sys/auxv.h>

static void stats_file(const char *when)
{
	const char *path = getenv("PAIO_STATS");
	struct stat st;
	printf("stats file from the environment %s: %s\n", when,
	       path == NULL ? "unset" : lstat(path, &st) == 0 ? "CREATED" : "absent");
}

int main(int argc, char **argv)
{
	const char *dir = matrix_start(argc, argv);
	if (!getauxval(AT_SECURE))
		skip("not in secure execution (setuid bit ignored, e.g. a nosuid mount)");
	const char *uid = getenv("MATRIX_USER_UID");
	printf("euid root: %s, uid the user's: %s\n", geteuid() == 0 ? "yes" : "no",
	       uid != NULL && (uid_t)atoi(uid) == getuid() ? "yes" : "no");
	printf("~%s\n", impl_name());
	/* A child that uses AIO and exits first (before the parent's own
	 * requests: glibc's AIO does not survive fork with helper threads). */
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int p[2];
		char buf[4];
		CHECK(pipe(p) == 0);
		must_write(p[1], "x", 1);
		one("child pipe read", LIO_READ, p[0], buf, 1, 0);
		exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	printf("child exit %d\n", WEXITSTATUS(status));
	stats_file("after the child");
	int fd = open("/proc/sys/kernel/ostype", O_RDONLY);
	CHECK(fd >= 0);
	char buf[64] = { 0 };
	one("read ostype", LIO_READ, fd, buf, sizeof buf - 1, 0);
	close(fd);
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/setuid-file", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	one("write as root", LIO_WRITE, fd, "secret", 6, 0);
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	printf("file owner root: %s\n", st.st_uid == 0 ? "yes" : "no");
	close(fd);
	return 0;
}
