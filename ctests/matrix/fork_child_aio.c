/* matrix: once */
/* A child forked while the parent has requests in flight (a read waiting
 * on a pipe, a large write) uses AIO itself: its requests run and complete,
 * and the parent's complete in the parent. glibc's child inherits the
 * parent's AIO bookkeeping (helper threads that do not exist there), so its
 * requests may never run: an intentional difference (see the README). */
#include "matrix.h"

static void child_work(int wfd)
{
	must_write(wfd, "kid", 3);
	int fd = tmp_file("child");
	static char data[8192], back[8192];
	fill_pattern(data, sizeof data, 9, 0);
	one("child write", LIO_WRITE, fd, data, sizeof data, 0);
	one("child read", LIO_READ, fd, back, sizeof back, 0);
	printf("child data: %s\n", memcmp(data, back, sizeof data) == 0 ? "ok" : "WRONG");
	int p[2];
	CHECK(pipe(p) == 0);
	char buf[8] = { 0 };
	struct aiocb rd;
	prep(&rd, p[0], buf, 3, 0, LIO_READ);
	CHECK(aio_read(&rd) == 0);
	must_write(p[1], "own", 3);
	printf("child pipe read: %s \"%s\"\n", finish(&rd, "child pipe"), buf);
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	int p[2];
	CHECK(pipe(p) == 0);
	char buf[8] = { 0 };
	struct aiocb rd;
	prep(&rd, p[0], buf, 3, 0, LIO_READ);
	CHECK(aio_read(&rd) == 0);
	int fd = tmp_file("parent");
	static char big[1 << 20];
	struct aiocb wr;
	prep(&wr, fd, big, sizeof big, 0, LIO_WRITE);
	CHECK(aio_write(&wr) == 0);
	let_worker_start();
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		alarm(10);
		child_work(p[1]);
		exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	printf("child: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
	       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	printf("parent read: %s \"%s\"\n", finish(&rd, "parent read"), buf);
	printf("parent write: %s\n", finish(&wr, "parent write"));
	prep(&rd, p[0], buf, 3, 0, LIO_READ);
	memset(buf, 0, sizeof buf);
	CHECK(aio_read(&rd) == 0);
	must_write(p[1], "mom", 3);
	printf("parent read again: %s \"%s\"\n", finish(&rd, "parent read"), buf);
	return 0;
}
