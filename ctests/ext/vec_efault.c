/* An unreadable iovec array is not a crash and not a synchronous error:
 * aio_readv / aio_writev return 0 and the request fails with EFAULT, seen by
 * aio_error / aio_return and by aio_waitcomplete. Covers a NULL array, an
 * array on a PROT_NONE page, one that runs off a readable page into a
 * PROT_NONE one, and a readable array naming a PROT_NONE buffer. */
#include "ext.h"

static long page;
static char *bad;   /* a PROT_NONE page */

static void expect_efault(const char *what, struct aiocb *cb, int write)
{
	EXPECT_OK(write ? aio_writev(cb) : aio_readv(cb));
	int e = wait_done(cb);
	if (e != EFAULT)
		FAIL("%s: aio_error %s, expected EFAULT", what, errname(e));
	/* aio_waitcomplete first: a request aio_return took is not returned. */
	struct aiocb *got;
	int err;
	ssize_t r = reap(&got, &err);
	if (got != cb || r != -1 || err != EFAULT)
		FAIL("%s: aio_waitcomplete gave %p %zd %s, expected %p -1 EFAULT",
		     what, (void *)got, r, errname(err), (void *)cb);
	EXPECT_EQ(aio_return(cb), -1);
	printf("%s %s: EFAULT\n", write ? "writev" : "readv", what);
}

int main(void)
{
	page = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(map != MAP_FAILED);
	bad = map + page;
	CHECK(mprotect(bad, page, PROT_NONE) == 0);

	int fd = tmp_file("vec-efault");
	static char data[4096];
	memset(data, 'x', sizeof data);
	must_pwrite(fd, data, sizeof data, 0);
	ENABLE_QUEUE();

	struct aiocb cb;
	for (int write = 0; write <= 1; write++) {
		prepv(&cb, fd, NULL, 2, 0, LIO_READ);
		expect_efault("NULL iovec array", &cb, write);

		prepv(&cb, fd, (struct iovec *)bad, 2, 0, LIO_READ);
		expect_efault("iovec array on a PROT_NONE page", &cb, write);

		/* 4 iovecs, the last 2 past the end of the readable page. */
		struct iovec *tail = (struct iovec *)(bad - 2 * sizeof(struct iovec));
		tail[0] = (struct iovec){ data, 10 };
		tail[1] = (struct iovec){ data + 10, 10 };
		prepv(&cb, fd, tail, 4, 0, LIO_READ);
		expect_efault("iovec array running into a PROT_NONE page", &cb, write);

		struct iovec v[1] = { { bad, 10 } };
		prepv(&cb, fd, v, 1, 0, LIO_READ);
		expect_efault("iovec naming a PROT_NONE buffer", &cb, write);
	}
	EXPECT_NOTHING_WAITING();

	/* Still fine afterwards. */
	char x[3], y[5];
	struct iovec ok[2] = { { x, 3 }, { y, 5 } };
	prepv(&cb, fd, ok, 2, 0, LIO_READ);
	EXPECT_OK(aio_readv(&cb));
	EXPECT_DONE(&cb, 8);
	printf("a good readv afterwards: 8\n");
	munmap(map, 3 * page);
	close(fd);
	return 0;
}
