/* A request that fails comes out of aio_waitcomplete as -1 with errno set to
 * its error and *iocbp pointing to its aiocb: aio_read on a closed fd and on
 * -1 (EBADF), aio_write and aio_writev on a read-only fd and aio_readv on a
 * write-only one (EBADF); aio_error agrees. */
#include "ext.h"

static void expect_ebadf(const char *what, struct aiocb *cb, int (*submit)(struct aiocb *))
{
	EXPECT_OK(submit(cb));
	struct aiocb *got;
	int err;
	ssize_t r = reap(&got, &err);
	if (r != -1 || err != EBADF || got != cb)
		FAIL("%s: aio_waitcomplete gave %zd %s %p, expected -1 EBADF %p",
		     what, r, errname(err), (void *)got, (void *)cb);
	EXPECT_ERRNO(aio_error(cb), EBADF);
	EXPECT_EQ(aio_return(cb), -1);
	printf("%s: -1/EBADF with its aiocb\n", what);
}

static int do_read(struct aiocb *cb) { return aio_read(cb); }
static int do_write(struct aiocb *cb) { return aio_write(cb); }
static int do_readv(struct aiocb *cb) { return aio_readv(cb); }
static int do_writev(struct aiocb *cb) { return aio_writev(cb); }

int main(void)
{
	ENABLE_QUEUE();
	char path[PATH_MAX];
	int fd = tmp_file_flags("wc-error", path, 0);
	CHECK(fd >= 0);
	must_pwrite(fd, "data", 4, 0);
	int rdonly = open(path, O_RDONLY | O_CLOEXEC);
	int wronly = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(rdonly >= 0 && wronly >= 0);
	unlink(path);
	int closed = dup(fd);
	CHECK(closed >= 0);
	close(closed);

	char buf[4];
	struct iovec iov[1] = { { buf, 4 } };
	struct aiocb cb;
	prep(&cb, closed, buf, 4, 0, LIO_READ);
	expect_ebadf("aio_read on a closed fd", &cb, do_read);
	prep(&cb, -1, buf, 4, 0, LIO_READ);
	expect_ebadf("aio_read on fd -1", &cb, do_read);
	prep(&cb, rdonly, buf, 4, 0, LIO_WRITE);
	expect_ebadf("aio_write on a read-only fd", &cb, do_write);
	prepv(&cb, rdonly, iov, 1, 0, LIO_WRITE);
	expect_ebadf("aio_writev on a read-only fd", &cb, do_writev);
	prepv(&cb, wronly, iov, 1, 0, LIO_READ);
	expect_ebadf("aio_readv on a write-only fd", &cb, do_readv);
	EXPECT_NOTHING_WAITING();

	/* A good request after the failures is unaffected. */
	prep(&cb, rdonly, buf, 4, 0, LIO_READ);
	EXPECT_OK(aio_read(&cb));
	struct aiocb *got;
	int err;
	EXPECT_EQ(reap(&got, &err), 4);
	CHECK(got == &cb && memcmp(buf, "data", 4) == 0);
	printf("a good read afterwards: 4\n");
	close(fd);
	close(rdonly);
	close(wronly);
	return 0;
}
