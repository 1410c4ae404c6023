/* matrix: filesystems */
/* A FIFO made on the filesystem under test: a read waiting for a writer's
 * data, writes read back in order, a short read, EOF after the writer
 * closes; the offset is ignored. */
#include "matrix.h"

int main(int argc, char **argv)
{
	const char *dir = matrix_start(argc, argv);
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/fifo", dir);
	if (mkfifo(path, 0600) != 0) {
		printf("mkfifo: %s\n", ename(errno));
		return 0;
	}
	int rfd = open(path, O_RDONLY | O_NONBLOCK);
	CHECK(rfd >= 0);
	int wfd = open(path, O_WRONLY);
	CHECK(wfd >= 0);
	CHECK(fcntl(rfd, F_SETFL, 0) == 0);
	char buf[64] = { 0 };
	struct aiocb rd;
	prep(&rd, rfd, buf, 5, 123, LIO_READ);
	CHECK(aio_read(&rd) == 0);
	let_worker_start();
	printf("read before data: %s\n", ename(aio_error(&rd)));
	must_write(wfd, "hello", 5);
	printf("read: %s \"%.5s\"\n", finish(&rd, "read"), buf);
	one("write one", LIO_WRITE, wfd, "one,", 4, 0);
	one("write two", LIO_WRITE, wfd, "two", 3, 999);
	memset(buf, 0, sizeof buf);
	one("read more than there is", LIO_READ, rfd, buf, sizeof buf, 0);
	printf("data: \"%s\"\n", buf);
	close(wfd);
	one("read at EOF", LIO_READ, rfd, buf, sizeof buf, 0);
	print_pos("fifo", rfd);
	close(rfd);
	unlink(path);
	return 0;
}
