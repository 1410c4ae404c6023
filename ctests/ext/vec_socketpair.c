/* aio_readv / aio_writev on socketpairs. SOCK_SEQPACKET: a vectored write is
 * one message and a vectored read scatters exactly that message. SOCK_STREAM:
 * a 3000-byte vectored write arrives whole and in order, read back with
 * vectored reads (a stream read may return fewer bytes than asked). */
#include "ext.h"

int main(void)
{
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0);
	/* The read first: it waits for the message. */
	char a[3], b[5], c[10];
	memset(c, '.', sizeof c);
	struct iovec rv[3] = { { a, 3 }, { b, 5 }, { c, 10 } };
	struct aiocb r;
	prepv(&r, sp[1], rv, 3, 0, LIO_READ);
	EXPECT_OK(aio_readv(&r));
	char m1[] = "hello", m2[] = ", ", m3[] = "world";
	struct iovec wv[3] = { { m1, 5 }, { m2, 2 }, { m3, 5 } };
	struct aiocb w;
	prepv(&w, sp[0], wv, 3, 0, LIO_WRITE);
	EXPECT_OK(aio_writev(&w));
	EXPECT_DONE(&w, 12);
	EXPECT_DONE(&r, 12);
	if (memcmp(a, "hel", 3) || memcmp(b, "lo, w", 5) || memcmp(c, "orld......", 10))
		FAIL("seqpacket readv got %.3s|%.5s|%.10s", a, b, c);
	printf("seqpacket: writev 5+2+5 is one message, readv 3+5+10 -> hel|lo, w|orld\n");
	close(sp[0]);
	close(sp[1]);

	int ss[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, ss) == 0);
	enum { LEN = 3000 };
	static unsigned char src[LEN], dst[LEN];
	fill_pattern(src, LEN, 41, 0);
	struct iovec sv[3] = { { src, 1000 }, { src + 1000, 1500 }, { src + 2500, 500 } };
	prepv(&w, ss[0], sv, 3, 0, LIO_WRITE);
	EXPECT_OK(aio_writev(&w));
	size_t got = 0;
	int reads = 0;
	while (got < LEN) {
		/* Split what is left in two iovecs. */
		size_t left = LEN - got, half = left / 2;
		struct iovec dv[2] = { { dst + got, half }, { dst + got + half, left - half } };
		size_t cnt = 2;
		if (half == 0) {
			dv[0] = dv[1];
			cnt = 1;
		}
		prepv(&r, ss[1], dv, cnt, 0, LIO_READ);
		EXPECT_OK(aio_readv(&r));
		int e = wait_done(&r);
		if (e != 0)
			FAIL("stream readv failed: %s", errname(e));
		ssize_t n = aio_return(&r);
		if (n <= 0 || (size_t)n > left)
			FAIL("stream readv returned %zd with %zu left", n, left);
		got += (size_t)n;
		if (++reads > 100)
			FAIL("100 reads and only %zu of %d bytes", got, LEN);
	}
	EXPECT_DONE(&w, LEN);
	EXPECT_PATTERN(dst, LEN, 41, 0);
	printf("stream: writev 1000+1500+500 read back in order\n");
	printf("~stream readv calls: %d\n", reads);
	close(ss[0]);
	close(ss[1]);
	return 0;
}
