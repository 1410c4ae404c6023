/* Sockets with a receive or send timeout (SO_RCVTIMEO, SO_SNDTIMEO): a read
 * that no data comes for fails with EAGAIN once the timeout runs out, and a
 * write that the peer does not drain completes with what fit (a short
 * count), as glibc's blocking read and write end; neither waits for ever,
 * and the short write is not retried. */
#include "common.h"
#include <sys/socket.h>

static void timeout_of(int fd, int opt, int ms)
{
	struct timeval tv = { 0, ms * 1000 };
	CHECK(setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) == 0);
}

int main(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	timeout_of(sv[0], SO_RCVTIMEO, 200);
	char in[64];
	struct aiocb rd;
	prep(&rd, sv[0], in, sizeof in, 0, LIO_READ);
	long long t0 = now_ms();
	EXPECT_OK(aio_read(&rd));
	int e = wait_done(&rd);
	printf("read, no data, receive timeout: %s %zd\n", e ? errname(e) : "ok", aio_return(&rd));
	long long took = now_ms() - t0;
	if (took < 150)
		FAIL("the read ended after %lld ms, before the 200 ms timeout", took);
	printf("~ read ended after %lld ms\n", took);

	/* Data there: the timeout changes nothing. */
	must_write(sv[1], "data", 4);
	prep(&rd, sv[0], in, sizeof in, 0, LIO_READ);
	EXPECT_OK(aio_read(&rd));
	EXPECT_DONE(&rd, 4);
	printf("read, data there: 4 bytes\n");

	timeout_of(sv[1], SO_SNDTIMEO, 200);
	static char out[1 << 20];
	fill_pattern(out, sizeof out, 5, 0);
	struct aiocb wr;
	prep(&wr, sv[1], out, sizeof out, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&wr));
	e = wait_done(&wr);
	ssize_t n = aio_return(&wr);
	printf("write of 1 MiB, peer not reading, send timeout: %s, %s\n", e ? errname(e) : "ok",
	       n > 0 && n < (ssize_t)sizeof out ? "cut short" : "not cut short");
	printf("~ wrote %zd bytes\n", n);
	/* What was written arrives intact. */
	static char back[1 << 20];
	ssize_t got = 0;
	while (got < n) {
		ssize_t r = read(sv[0], back + got, (size_t)(n - got));
		CHECK(r > 0);
		got += r;
	}
	EXPECT_PATTERN(back, (size_t)n, 5, 0);
	printf("what the write sent arrived intact\n");
	return 0;
}
