/* aio_reqprio outside 0..AIO_PRIO_DELTA_MAX (20) is refused synchronously:
 * aio_read/aio_write return -1/EINVAL; 0 and 20 are accepted. What aio_fsync
 * does with it is printed (glibc ignores it there) and compared. */
#include "common.h"

int main(void)
{
	int fd = tmp_file("reqprio");
	char buf[64] = "x";
	struct aiocb cb;
	int bad[] = { -1, 21, 1000, INT_MIN };
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		prep(&cb, fd, buf, sizeof buf, 0, LIO_WRITE);
		cb.aio_reqprio = bad[i];
		EXPECT_SYSERR(aio_write(&cb), EINVAL);
		prep(&cb, fd, buf, sizeof buf, 0, LIO_READ);
		cb.aio_reqprio = bad[i];
		EXPECT_SYSERR(aio_read(&cb), EINVAL);
		printf("~ %s: aio_error after refused submit: %s\n", impl_name(),
		       errname(aio_error(&cb)));
		prep(&cb, fd, NULL, 0, 0, LIO_NOP);
		cb.aio_reqprio = bad[i];
		errno = 0;
		int r = aio_fsync(O_SYNC, &cb);
		int e = r ? errno : wait_done(&cb);
		/* glibc checks aio_reqprio for reads and writes only. */
		printf("reqprio %d: read/write -1/EINVAL, fsync returned %d, %s\n",
		       bad[i], r, errname(e));
	}
	int good[] = { 0, 1, 20 };
	for (unsigned i = 0; i < sizeof good / sizeof good[0]; i++) {
		prep(&cb, fd, buf, sizeof buf, 0, LIO_WRITE);
		cb.aio_reqprio = good[i];
		EXPECT_OK(aio_write(&cb));
		EXPECT_DONE(&cb, sizeof buf);
		prep(&cb, fd, buf, sizeof buf, 0, LIO_READ);
		cb.aio_reqprio = good[i];
		EXPECT_OK(aio_read(&cb));
		EXPECT_DONE(&cb, sizeof buf);
		printf("reqprio %d accepted\n", good[i]);
	}
	close(fd);
	return 0;
}
