/* 70,000 requests in flight at once, more than 65,536: 700 one-byte reads
 * waiting on each of 100 empty pipes, all submitted before any data is
 * written. No submission may fail (glibc refuses none for want of room:
 * EAGAIN here would be paio's own limit), and once each pipe gets its 700
 * bytes every read completes with one byte, in submission order per pipe. */
#include "common.h"

#define PIPES 100
#define PER_PIPE 700
#define N (PIPES * PER_PIPE)

int main(void)
{
	static int p[PIPES][2];
	static struct aiocb cbs[N];
	static unsigned char got[N];
	for (int k = 0; k < PIPES; k++)
		CHECK(pipe(p[k]) == 0);
	/* Interleaved across the pipes, as a server's reads would be. */
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], p[i % PIPES][0], &got[i], 1, 0, LIO_READ);
		errno = 0;
		if (aio_read(&cbs[i]) != 0)
			FAIL("aio_read #%d: %s", i, errname(errno));
	}
	printf("%d reads in flight at once\n", N);
	for (int k = 0; k < PIPES; k++) {
		unsigned char data[PER_PIPE];
		for (int j = 0; j < PER_PIPE; j++)
			data[j] = (unsigned char)(j * 7 + k);
		must_write(p[k][1], data, sizeof data);
	}
	int wrong = 0;
	for (int i = 0; i < N; i++) {
		EXPECT_DONE(&cbs[i], 1);
		int k = i % PIPES, j = i / PIPES;
		if (got[i] != (unsigned char)(j * 7 + k) && wrong++ < 5)
			fprintf(stderr, "read #%d (pipe %d, #%d) got %u\n", i, k, j, got[i]);
	}
	if (wrong)
		FAIL("%d reads got another byte than their place in their pipe's order", wrong);
	printf("all %d completed, one byte each, in order per pipe\n", N);
	return 0;
}
