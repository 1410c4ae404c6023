/* An invalid sigev_notify (99) in an aiocb or in lio_listio's list sigevent:
 * paio refuses it with -1/EINVAL at submission and starts nothing. glibc 2.36
 * accepts it and completes without notifying: an intentional difference.
 * Also printed: what an out-of-range signal number (SIGEV_SIGNAL, 999) gives
 * (glibc: accepted, then EINVAL through aio_error). */
#include "common.h"

int main(void)
{
	int fd = tmp_file("sigev");
	char buf[16] = "abcdefghijklmnop";
	struct aiocb cb;

	prep(&cb, fd, buf, sizeof buf, 0, LIO_WRITE);
	cb.aio_sigevent.sigev_notify = 99;
	errno = 0;
	int r = aio_write(&cb);
	int e = r ? errno : wait_done(&cb);
	printf("aio_write sigev_notify 99: %s %s\n", r ? "-1" : "accepted, then", errname(e));
	if (is_paio()) {
		EXPECT_EQ(r, -1);
		EXPECT_ERRNO(e, EINVAL);
	}

	prep(&cb, fd, buf, sizeof buf, 0, LIO_READ);
	cb.aio_sigevent.sigev_notify = 99;
	errno = 0;
	r = aio_read(&cb);
	e = r ? errno : wait_done(&cb);
	printf("aio_read sigev_notify 99: %s %s\n", r ? "-1" : "accepted, then", errname(e));
	if (is_paio()) {
		EXPECT_EQ(r, -1);
		EXPECT_ERRNO(e, EINVAL);
	}

	prep(&cb, fd, NULL, 0, 0, LIO_NOP);
	cb.aio_sigevent.sigev_notify = 99;
	errno = 0;
	r = aio_fsync(O_SYNC, &cb);
	e = r ? errno : wait_done(&cb);
	printf("aio_fsync sigev_notify 99: %s %s\n", r ? "-1" : "accepted, then", errname(e));
	if (is_paio()) {
		EXPECT_EQ(r, -1);
		EXPECT_ERRNO(e, EINVAL);
	}

	struct aiocb w;
	prep(&w, fd, buf, sizeof buf, 100, LIO_WRITE);
	struct aiocb *list[1] = { &w };
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = 99;
	errno = 0;
	r = lio_listio(LIO_NOWAIT, list, 1, &sev);
	e = errno;
	if (r == 0)
		wait_done(&w);
	printf("lio_listio list sigev_notify 99: %d %s\n", r, r ? errname(e) : "");
	if (is_paio()) {
		EXPECT_EQ(r, -1);
		EXPECT_ERRNO(e, EINVAL);
		/* Neither the refused aio_write nor the refused list wrote. */
		sleep_ms(20);
		EXPECT_EQ(file_size(fd), 0);
	}

	prep(&cb, fd, buf, sizeof buf, 0, LIO_READ);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = 999;
	errno = 0;
	r = aio_read(&cb);
	e = r ? errno : wait_done(&cb);
	printf("aio_read SIGEV_SIGNAL signo 999: %s %s\n", r ? "-1" : "accepted, then", errname(e));
	if (is_paio())
		EXPECT_ERRNO(e, EINVAL);
	close(fd);
	return 0;
}
