/* lio_listio with an invalid aio_lio_opcode in one entry: that entry fails
 * with EINVAL through aio_error (aio_return -1); the others succeed. Printed:
 * what lio_listio itself returned, under LIO_WAIT and LIO_NOWAIT. */
#include "common.h"

int main(void)
{
	int fd = tmp_file("lioop");
	char a[64], b[64], c[64];
	fill_pattern(a, sizeof a, 21, 0);
	struct aiocb w, bad, r;
	prep(&w, fd, a, sizeof a, 0, LIO_WRITE);
	prep(&bad, fd, b, sizeof b, 0, 42);
	prep(&r, fd, c, sizeof c, 100, LIO_READ);
	struct aiocb *list[3] = { &w, &bad, &r };
	errno = 0;
	int ret = lio_listio(LIO_WAIT, list, 3, NULL);
	printf("LIO_WAIT returned %d %s\n", ret, ret ? errname(errno) : "");
	EXPECT_FAILED(&bad, EINVAL);
	EXPECT_DONE(&w, sizeof a);
	EXPECT_DONE(&r, 0);

	prep(&w, fd, a, sizeof a, 64, LIO_WRITE);
	prep(&bad, fd, b, sizeof b, 0, -7);
	prep(&r, fd, c, sizeof c, 0, LIO_READ);
	errno = 0;
	ret = lio_listio(LIO_NOWAIT, list, 3, NULL);
	printf("LIO_NOWAIT returned %d %s\n", ret, ret ? errname(errno) : "");
	EXPECT_FAILED(&bad, EINVAL);
	EXPECT_DONE(&w, sizeof a);
	EXPECT_DONE(&r, sizeof c);
	EXPECT_PATTERN(c, sizeof c, 21, 0);
	printf("invalid opcode entry -> EINVAL, others succeed\n");
	close(fd);
	return 0;
}
