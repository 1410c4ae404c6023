/* POSIX record locks survive the program's AIO. A record lock (fcntl
 * F_SETLK, lockf) belongs to the process and the file, and Linux drops every
 * one the process holds on a file when the process closes any descriptor of
 * that file. glibc's workers use the program's own descriptor; paio keeps a
 * duplicate for requests that wait in user space, and must not drop the
 * program's locks when it is done with it.
 *
 * After each kind of request that leaves the submitting call (an uncached
 * read, an aio_fsync, an O_APPEND write on a second descriptor of the same
 * file, a lio_listio), a forked child asks with F_GETLK whether the parent
 * still holds its lock. Both kinds of lock: fcntl(F_SETLK) on one file,
 * lockf(F_LOCK) on another, and a lock taken after earlier requests were
 * done; and a lock the process holds from before an execve of itself (record
 * locks survive exec), whose new image makes its first requests on it. */
#include "common.h"

#define SIZE (1 << 20)

/* Does a child see this process holding a write lock over [0, SIZE)? */
static int held(int fd)
{
	pid_t parent = getpid();
	pid_t child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = SIZE };
		if (fcntl(fd, F_GETLK, &fl) != 0)
			_exit(2);
		_exit(fl.l_type == F_WRLCK && fl.l_pid == parent ? 0 : 1);
	}
	int status;
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 2);
	return WEXITSTATUS(status) == 0;
}

static void report(const char *what, int fd)
{
	int yes = held(fd);
	printf("%s: lock %s\n", what, yes ? "held" : "LOST");
	if (!yes)
		FAIL("%s dropped the program's record lock", what);
}

static void fill(int fd, char *buf)
{
	for (int i = 0; i < SIZE; i++)
		buf[i] = (char)(i * 7 + 3);
	CHECK(pwrite(fd, buf, SIZE, 0) == SIZE);
	CHECK(fsync(fd) == 0);
}

/* A new file of SIZE known bytes, its descriptor; its name in `path`. */
static int filled(const char *tag, char *path, char *buf)
{
	int fd = tmp_file_flags(tag, path, 0);
	CHECK(fd >= 0);
	fill(fd, buf);
	return fd;
}

/* Every request that may take paio's duplicate, each followed by a look. */
static void requests(const char *tag, int fd, const char *path, char *buf)
{
	char what[128];
	struct aiocb cb;

	/* Uncached: the ring or the pool, not the submitting call. */
	CHECK(posix_fadvise(fd, 0, SIZE, POSIX_FADV_DONTNEED) == 0);
	prep(&cb, fd, buf, SIZE, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	EXPECT_DONE(&cb, SIZE);
	snprintf(what, sizeof what, "%s: uncached aio_read", tag);
	report(what, fd);

	prep(&cb, fd, NULL, 0, 0, LIO_NOP);
	EXPECT_OK(aio_fsync(O_SYNC, &cb));
	EXPECT_DONE(&cb, 0);
	snprintf(what, sizeof what, "%s: aio_fsync", tag);
	report(what, fd);

	/* A second descriptor of the same file: closing paio's duplicate of it
	 * would drop the lock taken through the first. */
	int afd = open(path, O_WRONLY | O_APPEND);
	CHECK(afd >= 0);
	prep(&cb, afd, buf, 4096, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&cb));
	EXPECT_DONE(&cb, 4096);
	snprintf(what, sizeof what, "%s: O_APPEND aio_write", tag);
	report(what, fd);

	CHECK(posix_fadvise(fd, 0, SIZE, POSIX_FADV_DONTNEED) == 0);
	struct aiocb a, b;
	prep(&a, fd, buf, SIZE / 2, 0, LIO_READ);
	prep(&b, afd, buf + SIZE / 2, 4096, 0, LIO_WRITE);
	struct aiocb *list[] = { &a, &b };
	EXPECT_OK(lio_listio(LIO_WAIT, list, 2, NULL));
	EXPECT_DONE(&a, SIZE / 2);
	EXPECT_DONE(&b, 4096);
	snprintf(what, sizeof what, "%s: lio_listio", tag);
	report(what, fd);
	CHECK(close(afd) == 0);
}

/* The re-executed image: `fd` is locked already, by the image before. */
static int after_exec(int fd)
{
	static char buf[SIZE];
	report("exec: inherited", fd);
	struct aiocb cb;
	CHECK(posix_fadvise(fd, 0, SIZE, POSIX_FADV_DONTNEED) == 0);
	prep(&cb, fd, buf, SIZE, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	EXPECT_DONE(&cb, SIZE);
	report("exec: uncached aio_read", fd);
	prep(&cb, fd, NULL, 0, 0, LIO_NOP);
	EXPECT_OK(aio_fsync(O_SYNC, &cb));
	EXPECT_DONE(&cb, 0);
	report("exec: aio_fsync", fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--after-exec") == 0)
		return after_exec(atoi(argv[2]));
	static char buf[SIZE];

	/* fcntl(F_SETLK), taken before any AIO on the file. */
	char path[PATH_MAX];
	int fd = filled("locks-fcntl", path, buf);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = SIZE };
	CHECK(fcntl(fd, F_SETLK, &fl) == 0);
	report("fcntl: before any request", fd);
	requests("fcntl", fd, path, buf);

	/* lockf(F_LOCK) on another file, after requests on it were done. */
	char path2[PATH_MAX];
	int fd2 = filled("locks-lockf", path2, buf);
	struct aiocb cb;
	CHECK(posix_fadvise(fd2, 0, SIZE, POSIX_FADV_DONTNEED) == 0);
	prep(&cb, fd2, buf, SIZE, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	EXPECT_DONE(&cb, SIZE);
	CHECK(lseek(fd2, 0, SEEK_SET) == 0);
	CHECK(lockf(fd2, F_LOCK, SIZE) == 0);
	report("lockf: after a request", fd2);
	requests("lockf", fd2, path2, buf);

	/* A third file, locked by a child that then executes this program
	 * again: the new image holds the lock from its first instruction. */
	char path3[PATH_MAX];
	int fd3 = filled("locks-exec", path3, buf);
	CHECK(fcntl(fd3, F_SETFD, 0) == 0); /* kept across exec */
	fflush(stdout);
	pid_t child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		CHECK(fcntl(fd3, F_SETLK, &fl) == 0);
		char arg[16];
		snprintf(arg, sizeof arg, "%d", fd3);
		execl("/proc/self/exe", argv[0], "--after-exec", arg, (char *)NULL);
		_exit(3);
	}
	int status;
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	unlink(path);
	unlink(path2);
	unlink(path3);
	printf("done\n");
	return 0;
}
