/* matrix: once */
/* fork() with requests in flight: a read waits on a pipe in the parent and
 * a large write runs; the child feeds the parent's pipe and exits; the
 * parent's read gets exactly what the child wrote, and a second read, after
 * the child is gone, what the parent wrote (nothing of the parent's requests
 * ran again in the child). fork_child_aio.c includes this file with a
 * child that uses AIO itself. */
#include "matrix.h"

#ifndef FORK_CHILD_USES_AIO
static void child_work(int wfd)
{
	printf("child: writing\n");
	must_write(wfd, "kid", 3);
}
#endif

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	int p[2];
	char buf[8] = { 0 };
	struct aiocb rd;
	pipe_read_pending(p, &rd, buf, 3);
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
