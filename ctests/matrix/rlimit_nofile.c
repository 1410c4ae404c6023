/* matrix: once */
/* RLIMIT_NOFILE at exactly the program's need: 300 socketpairs, the soft
 * limit set to the highest descriptor + 1, a read waiting on each and a
 * file write beside them; every request runs and gets its byte, as on
 * glibc, whose threads need no descriptor. The limit is restored before
 * exit. */
#include "matrix.h"

enum { PAIRS = 300 };

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	int fd = tmp_file("nofile");
	static int sv[PAIRS][2];
	int top = fd;
	for (int i = 0; i < PAIRS; i++) {
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]) == 0);
		top = sv[i][1] > top ? sv[i][1] : top;
	}
	struct rlimit old, tight;
	CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
	tight = old;
	tight.rlim_cur = (rlim_t)top + 1;
	CHECK(setrlimit(RLIMIT_NOFILE, &tight) == 0);
	int extra = open("/dev/null", O_RDONLY);
	printf("open at the limit: %s\n", extra < 0 ? ename(errno) : "succeeded");
	if (extra >= 0)
		close(extra);

	static struct aiocb cbs[PAIRS];
	static char bufs[PAIRS];
	int refused = 0;
	for (int i = 0; i < PAIRS; i++) {
		prep(&cbs[i], sv[i][0], &bufs[i], 1, 0, LIO_READ);
		if (aio_read(&cbs[i]) != 0) {
			if (refused++ == 0)
				printf("first refusal at request %d: %s\n", i, ename(errno));
			cbs[i].aio_fildes = -1;
		}
	}
	static char data[65536];
	fill_pattern(data, sizeof data, 1, 0);
	struct aiocb wr;
	prep(&wr, fd, data, sizeof data, 0, LIO_WRITE);
	errno = 0;
	int wr_ok = aio_write(&wr) == 0;
	printf("file write submitted: %s\n", wr_ok ? "yes" : ename(errno));
	printf("reads refused: %d of %d\n", refused, PAIRS);
	for (int i = 0; i < PAIRS; i++) {
		char c = (char)(i & 0xff);
		must_write(sv[i][1], &c, 1);
	}
	int ok = 0, right = 0;
	for (int i = 0; i < PAIRS; i++) {
		if (cbs[i].aio_fildes < 0)
			continue;
		ok += strcmp(finish(&cbs[i], "read"), "ok 1") == 0;
		right += bufs[i] == (char)(i & 0xff);
	}
	printf("reads completed: %d, right byte: %d\n", ok, right);
	if (wr_ok)
		printf("file write: %s\n", finish(&wr, "write"));
	CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
	return 0;
}
