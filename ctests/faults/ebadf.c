/* EBADF: reads and writes on descriptors that are invalid (-1, closed, out of
 * range, O_PATH) or open the wrong way (a write on O_RDONLY, a read on
 * O_WRONLY) are accepted and fail with EBADF through aio_error, notified once;
 * aio_fsync and aio_cancel on a bad descriptor return -1/EBADF at once;
 * lio_listio(LIO_WAIT) mixing bad and good entries -> -1/EIO with each
 * member's own result. */
#include "faults.h"

int main(void)
{
	int sig = SIGRTMIN + 1;
	install_siginfo_handler(sig, count_signal);
	char path[PATH_MAX];
	int fd = tmp_file_flags("ebadf", path, 0);
	CHECK(fd >= 0);
	char data[4096], buf[4096];
	fill_pattern(data, sizeof data, 5, 0);
	must_pwrite(fd, data, sizeof data, 0);
	int rdonly = open(path, O_RDONLY);
	int wronly = open(path, O_WRONLY);
	int opath = open(path, O_PATH);
	int closed = open(path, O_RDONLY);
	CHECK(rdonly >= 0 && wronly >= 0 && opath >= 0 && closed >= 0);
	CHECK(close(closed) == 0);
	CHECK(unlink(path) == 0);

	struct { int fd; int op; const char *what; } cases[] = {
		{ -1, LIO_READ, "aio_read on fd -1" },
		{ -1, LIO_WRITE, "aio_write on fd -1" },
		{ closed, LIO_READ, "aio_read on a closed fd" },
		{ closed, LIO_WRITE, "aio_write on a closed fd" },
		{ 1 << 20, LIO_READ, "aio_read on fd 1048576" },
		{ opath, LIO_READ, "aio_read on an O_PATH fd" },
		{ rdonly, LIO_WRITE, "aio_write on an O_RDONLY fd" },
		{ wronly, LIO_READ, "aio_read on an O_WRONLY fd" },
	};
	int n = sizeof cases / sizeof cases[0];
	for (int i = 0; i < n; i++) {
		struct aiocb bad, ok;
		prep(&bad, cases[i].fd, buf, 16, 0, cases[i].op);
		bad.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
		bad.aio_sigevent.sigev_signo = sig;
		prep(&ok, fd, buf, 4096, 0, LIO_READ);
		SUBMIT(&bad);
		SUBMIT(&ok);
		EXPECT_FAILED(&bad, EBADF);
		EXPECT_DONE(&ok, 4096);
		EXPECT_PATTERN(buf, 4096, 5, 0);
		wait_flag(&signals_seen, i + 1);
		printf("%s -> accepted, EBADF, one notification; a read beside it succeeds\n", cases[i].what);
	}
	sleep_ms(50);
	EXPECT_EQ(atomic_load(&signals_seen), n);

	struct aiocb cb;
	prep(&cb, closed, NULL, 0, 0, 0);
	EXPECT_SYSERR(aio_fsync(O_SYNC, &cb), EBADF);
	prep(&cb, -1, NULL, 0, 0, 0);
	EXPECT_SYSERR(aio_fsync(O_DSYNC, &cb), EBADF);
	EXPECT_SYSERR(aio_cancel(closed, NULL), EBADF);
	EXPECT_SYSERR(aio_cancel(-1, NULL), EBADF);
	printf("aio_fsync and aio_cancel on a bad fd -> -1/EBADF\n");

	struct aiocb a, b, c, d;
	char b1[4096], b2[4096];
	prep(&a, fd, b1, 4096, 0, LIO_READ);
	prep(&b, closed, b2, 16, 0, LIO_READ);
	prep(&c, fd, data, 4096, 4096, LIO_WRITE);
	prep(&d, rdonly, data, 16, 0, LIO_WRITE);
	struct aiocb *list[] = { &a, &b, &c, &d };
	EXPECT_SYSERR(lio_listio(LIO_WAIT, list, 4, NULL), EIO);
	EXPECT_DONE(&a, 4096);
	EXPECT_PATTERN(b1, 4096, 5, 0);
	EXPECT_FAILED(&b, EBADF);
	EXPECT_DONE(&c, 4096);
	EXPECT_FAILED(&d, EBADF);
	EXPECT_EQ(file_size(fd), 8192);
	printf("lio_listio(LIO_WAIT) with bad entries -> -1/EIO; good members succeed\n");
	return 0;
}
