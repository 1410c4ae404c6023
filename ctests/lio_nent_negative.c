/* lio_listio with nent < 0: -1/EINVAL and nothing submitted (paio). glibc
 * 2.36 returns 0 without doing anything: an intentional difference, printed. */
#include "common.h"

static int fd;
static char buf[16] = "0123456789abcdef";

static long call(int mode, int nent)
{
	struct aiocb cb;
	prep(&cb, fd, buf, sizeof buf, 0, LIO_WRITE);
	struct aiocb *list[1] = { &cb };
	return lio_listio(mode, list, nent, NULL);
}

static long wait_minus1(void) { return call(LIO_WAIT, -1); }
static long nowait_minus1(void) { return call(LIO_NOWAIT, -1); }
static long wait_intmin(void) { return call(LIO_WAIT, INT_MIN); }

int main(void)
{
	fd = tmp_file("lioneg");
	if (is_paio()) {
		EXPECT_SYSERR(call(LIO_WAIT, -1), EINVAL);
		EXPECT_SYSERR(call(LIO_NOWAIT, -1), EINVAL);
		EXPECT_SYSERR(call(LIO_WAIT, INT_MIN), EINVAL);
		sleep_ms(20);
		EXPECT_EQ(file_size(fd), 0);
		printf("lio_listio nent<0 -> EINVAL\n");
	} else {
		printf("glibc: LIO_WAIT nent -1: %s\n", probe_in_child(wait_minus1));
		printf("glibc: LIO_NOWAIT nent -1: %s\n", probe_in_child(nowait_minus1));
		printf("glibc: LIO_WAIT nent INT_MIN: %s\n", probe_in_child(wait_intmin));
	}
	close(fd);
	return 0;
}
