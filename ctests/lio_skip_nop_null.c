/* lio_listio skips NULL entries and LIO_NOP entries (LIO_WAIT and LIO_NOWAIT):
 * the real entries complete, the LIO_NOP aiocb is left alone. A list of only
 * NULL/LIO_NOP entries succeeds at once. */
#include "common.h"

int main(void)
{
	int fd = tmp_file("lionop");
	char a[64], b[64];
	fill_pattern(a, sizeof a, 19, 0);
	struct aiocb w, r, nop;
	prep(&w, fd, a, sizeof a, 0, LIO_WRITE);
	prep(&nop, fd, b, sizeof b, 0, LIO_NOP);
	struct aiocb *list[5] = { NULL, &w, &nop, NULL, NULL };
	EXPECT_OK(lio_listio(LIO_WAIT, list, 5, NULL));
	EXPECT_ERRNO(aio_error(&w), 0);
	EXPECT_EQ(aio_return(&w), sizeof a);
	printf("LIO_NOP aiocb after LIO_WAIT: aio_error %s\n", errname(aio_error(&nop)));

	prep(&r, fd, b, sizeof b, 0, LIO_READ);
	struct aiocb *list2[4] = { &nop, NULL, &r, NULL };
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_NONE;
	EXPECT_OK(lio_listio(LIO_NOWAIT, list2, 4, &sev));
	EXPECT_DONE(&r, sizeof b);
	EXPECT_PATTERN(b, sizeof b, 19, 0);

	struct aiocb *empty[3] = { NULL, &nop, NULL };
	EXPECT_OK(lio_listio(LIO_WAIT, empty, 3, NULL));
	EXPECT_OK(lio_listio(LIO_NOWAIT, empty, 3, NULL));
	printf("NULL and LIO_NOP entries skipped\n");
	close(fd);
	return 0;
}
