/* aio_fsync(O_SYNC) after writes completes with 0 (aio_return 0) and the
 * written data is in the file. */
#include "common.h"

static void run(int op, const char *name)
{
	int fd = tmp_file("fsync");
	static unsigned char buf[65536];
	fill_pattern(buf, sizeof buf, 3, 0);
	struct aiocb w, s;
	prep(&w, fd, buf, sizeof buf, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&w));
	prep(&s, fd, NULL, 0, 0, LIO_NOP);
	EXPECT_OK(aio_fsync(op, &s));
	EXPECT_EQ(wait_done(&s), 0);
	EXPECT_EQ(aio_return(&s), 0);
	EXPECT_DONE(&w, sizeof buf);
	static unsigned char back[65536];
	must_pread(fd, back, sizeof back, 0);
	EXPECT_PATTERN(back, sizeof back, 3, 0);
	/* A second fsync with nothing pending also completes. */
	prep(&s, fd, NULL, 0, 0, LIO_NOP);
	EXPECT_OK(aio_fsync(op, &s));
	EXPECT_EQ(wait_done(&s), 0);
	EXPECT_EQ(aio_return(&s), 0);
	printf("%s ok\n", name);
	close(fd);
}

int main(void)
{
#ifdef FSYNC_OP
	run(FSYNC_OP, FSYNC_NAME);
#else
	run(O_SYNC, "O_SYNC");
#endif
	return 0;
}
