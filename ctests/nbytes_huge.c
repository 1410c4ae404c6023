/* aio_nbytes larger than SSIZE_MAX (SIZE_MAX, SSIZE_MAX + 1): paio refuses it
 * with EINVAL, either at submission (-1/EINVAL) or through aio_error; which
 * one is printed. glibc 2.36 accepts it and fails later with EFAULT (the
 * kernel's access check on the huge buffer): an intentional difference. */
#include "common.h"

static void one(int fd, size_t n, int opcode, const char *what)
{
	static char buf[64];
	struct aiocb cb;
	prep(&cb, fd, buf, n, 0, opcode);
	errno = 0;
	int r = opcode == LIO_READ ? aio_read(&cb) : aio_write(&cb);
	int e = errno;
	if (r != 0) {
		printf("%s: submit -1 %s\n", what, errname(e));
		if (is_paio())
			EXPECT_ERRNO(e, EINVAL);
		return;
	}
	e = wait_done(&cb);
	ssize_t ret = aio_return(&cb);
	printf("%s: accepted, then %s (aio_return %zd)\n", what, errname(e), ret);
	if (is_paio()) {
		EXPECT_ERRNO(e, EINVAL);
		EXPECT_EQ(ret, -1);
	}
}

int main(void)
{
	int fd = tmp_file("nbytes");
	must_pwrite(fd, "0123456789", 10, 0);
	one(fd, SIZE_MAX, LIO_READ, "read SIZE_MAX");
	one(fd, (size_t)SSIZE_MAX + 1, LIO_READ, "read SSIZE_MAX+1");
	one(fd, SIZE_MAX, LIO_WRITE, "write SIZE_MAX");
	one(fd, (size_t)SSIZE_MAX + 1, LIO_WRITE, "write SSIZE_MAX+1");
	EXPECT_EQ(file_size(fd), 10);
	close(fd);
	return 0;
}
