/* Built with _FILE_OFFSET_BITS=64, so <aio.h> redirects aio_read etc. to the
 * *64 symbols; requests beyond 4 GiB work through the plain names. */
#define _FILE_OFFSET_BITS 64
#include "common.h"

#define BIG ((off_t)6 << 30)

int main(void)
{
	_Static_assert(sizeof(off_t) == 8, "64-bit off_t");
	int fd = tmp_file("redirect64");
	if (ftruncate(fd, BIG + 4096) != 0)
		skip("cannot create a sparse file over 4 GiB: %s", strerror(errno));
	static char src[4096], dst[4096];
	fill_pattern(src, sizeof src, 10, BIG);
	struct aiocb w, r, s;
	prep(&w, fd, src, sizeof src, BIG, LIO_WRITE);
	EXPECT_OK(aio_write(&w));
	EXPECT_DONE(&w, sizeof src);
	prep(&s, fd, NULL, 0, 0, LIO_NOP);
	EXPECT_OK(aio_fsync(O_DSYNC, &s));
	EXPECT_EQ(wait_done(&s), 0);
	prep(&r, fd, dst, sizeof dst, BIG, LIO_READ);
	struct aiocb *list[1] = { &r };
	EXPECT_OK(lio_listio(LIO_WAIT, list, 1, NULL));
	EXPECT_EQ(aio_return(&r), sizeof dst);
	EXPECT_PATTERN(dst, sizeof dst, 10, BIG);
	EXPECT_EQ(aio_cancel(fd, NULL), AIO_ALLDONE);
	printf("_FILE_OFFSET_BITS=64 beyond 4 GiB ok\n");
	close(fd);
	return 0;
}
