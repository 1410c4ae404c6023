/* A negative aio_offset is accepted by aio_read/aio_write (squid submits
 * aio_offset = -1) and fails later with EINVAL through aio_error. */
#include "common.h"

int main(void)
{
	int fd = tmp_file("negoff");
	char buf[64];
	fill_pattern(buf, sizeof buf, 11, 0);
	off_t offs[] = { -1, -4096, (off_t)INT64_MIN };
	struct aiocb cb;
	for (unsigned i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		prep(&cb, fd, buf, sizeof buf, offs[i], LIO_WRITE);
		EXPECT_OK(aio_write(&cb));
		EXPECT_FAILED(&cb, EINVAL);
		prep(&cb, fd, buf, sizeof buf, offs[i], LIO_READ);
		EXPECT_OK(aio_read(&cb));
		EXPECT_FAILED(&cb, EINVAL);
	}
	EXPECT_EQ(file_size(fd), 0);
	/* Squid's pattern: SIGEV_SIGNAL with signo 0 and offset -1, never reaped
	 * until later; the next normal request on the fd still works. */
	prep(&cb, fd, buf, sizeof buf, -1, LIO_WRITE);
	cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	cb.aio_sigevent.sigev_signo = 0;
	EXPECT_OK(aio_write(&cb));
	struct aiocb ok;
	prep(&ok, fd, buf, sizeof buf, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&ok));
	EXPECT_DONE(&ok, sizeof buf);
	EXPECT_FAILED(&cb, EINVAL);
	printf("negative offset: accepted, then EINVAL\n");
	close(fd);
	return 0;
}
