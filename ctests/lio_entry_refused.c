/* lio_listio with an entry refused before it is queued (aio_reqprio out of
 * range): that entry fails with EINVAL through aio_error (aio_return -1)
 * and the others run. What lio_listio returns, as on glibc: under LIO_WAIT,
 * -1/EIO when some of the list ran, and the entry's own reason when none
 * did; under LIO_NOWAIT, -1 with the entry's reason. */
#include "common.h"

static void list_of(const char *name, int mode, int fd, int good)
{
	static char a[64], b[64], c[64];
	struct aiocb w, bad, r;
	fill_pattern(a, sizeof a, 23, 0);
	/* The read and the write touch different bytes: a list's requests
	 * may run in any order. */
	CHECK(pwrite(fd, a, sizeof a, 0) == (ssize_t)sizeof a);
	prep(&w, fd, a, sizeof a, 64, LIO_WRITE);
	prep(&bad, fd, b, sizeof b, 0, LIO_READ);
	bad.aio_reqprio = 99;
	prep(&r, fd, c, sizeof c, 0, LIO_READ);
	struct aiocb *all[3] = { &w, &bad, &r }, *alone[1] = { &bad };
	errno = 0;
	int ret = good ? lio_listio(mode, all, 3, NULL) : lio_listio(mode, alone, 1, NULL);
	printf("%s: lio_listio returned %d %s\n", name, ret, ret ? errname(errno) : "");
	EXPECT_FAILED(&bad, EINVAL);
	if (good) {
		EXPECT_DONE(&w, sizeof a);
		EXPECT_DONE(&r, sizeof c);
		EXPECT_PATTERN(c, sizeof c, 23, 0);
	}
}

int main(void)
{
	int fd = tmp_file("liorefused");
	list_of("LIO_WAIT, two of three run", LIO_WAIT, fd, 1);
	list_of("LIO_WAIT, none runs", LIO_WAIT, fd, 0);
	list_of("LIO_NOWAIT, two of three run", LIO_NOWAIT, fd, 1);
	list_of("LIO_NOWAIT, none runs", LIO_NOWAIT, fd, 0);
	printf("refused entry -> EINVAL, the others run\n");
	close(fd);
	return 0;
}
