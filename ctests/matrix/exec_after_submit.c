/* matrix: once */
/* exec after submitting: a read waits on a pipe that survives the exec; the
 * new image writes to that pipe and reads its own data back with AIO; no
 * request of the old image may take it. */
#include "matrix.h"

static int after_exec(int rfd, int wfd, int filefd)
{
	printf("after exec\n");
	must_write(wfd, "fresh", 5);
	char buf[8] = { 0 };
	one("new image pipe read", LIO_READ, rfd, buf, 5, 0);
	printf("data \"%s\"\n", buf);
	char fbuf[4] = { 0 };
	one("new image file read", LIO_READ, filefd, fbuf, 3, 0);
	printf("file \"%s\"\n", fbuf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = matrix_start(argc, argv);
	if (argc == 6 && strcmp(argv[2], "after-exec") == 0)
		return after_exec(atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	int p[2];
	CHECK(pipe(p) == 0);
	static char buf[8];
	struct aiocb rd;
	prep(&rd, p[0], buf, 5, 0, LIO_READ);
	CHECK(aio_read(&rd) == 0);
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/exec-file", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	one("old image file write", LIO_WRITE, fd, "old", 3, 0);
	/* One more write, left in flight across the exec. */
	struct aiocb wr;
	static char big[1 << 20];
	prep(&wr, fd, big, sizeof big, 4096, LIO_WRITE);
	CHECK(aio_write(&wr) == 0);
	let_worker_start();
	printf("read before exec: %s\n", ename(aio_error(&rd)));
	char a[3][16];
	snprintf(a[0], sizeof a[0], "%d", p[0]);
	snprintf(a[1], sizeof a[1], "%d", p[1]);
	snprintf(a[2], sizeof a[2], "%d", fd);
	fflush(NULL);
	execl("/proc/self/exe", argv[0], dir, "after-exec", a[0], a[1], a[2], (char *)NULL);
	FAIL("exec: %s", strerror(errno));
}
