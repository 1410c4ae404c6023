/* Pipes (no pread there: ESPIPE must not leak out): several aio_writes queued
 * on a pipe arrive in submission order; several aio_reads queued on an empty
 * pipe are served in submission order; reads at EOF return 0. */
#include "common.h"

#define N 8
#define REC 16

static void writes_in_order(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	static char recs[N][REC];
	struct aiocb cbs[N];
	for (int i = 0; i < N; i++) {
		snprintf(recs[i], REC, "record-%02d-----", i);
		prep(&cbs[i], p[1], recs[i], REC, 12345 /* ignored */, LIO_WRITE);
		EXPECT_OK(aio_write(&cbs[i]));
	}
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&cbs[i], REC);
	char got[N * REC];
	ssize_t n = read(p[0], got, sizeof got);
	EXPECT_EQ(n, sizeof got);
	for (int i = 0; i < N; i++)
		if (memcmp(got + i * REC, recs[i], REC) != 0)
			FAIL("pipe record %d out of order: %.16s", i, got + i * REC);
	close(p[0]);
	close(p[1]);
}

static void reads_in_order(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	static char bufs[N][REC];
	struct aiocb cbs[N];
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], p[0], bufs[i], REC, 0, LIO_READ);
		EXPECT_OK(aio_read(&cbs[i]));
	}
	for (int i = 0; i < N; i++)
		EXPECT_ERRNO(aio_error(&cbs[i]), EINPROGRESS);
	char all[N * REC];
	for (int i = 0; i < N; i++) {
		char rec[REC + 1];
		snprintf(rec, sizeof rec, "chunk-%02d--------", i);
		memcpy(all + i * REC, rec, REC);
	}
	must_write(p[1], all, sizeof all); /* one atomic write: < PIPE_BUF */
	for (int i = 0; i < N; i++) {
		EXPECT_DONE(&cbs[i], REC);
		if (memcmp(bufs[i], all + i * REC, REC) != 0)
			FAIL("read %d got %.16s, expected %.16s", i, bufs[i],
			     all + i * REC);
	}
	/* Writer closed: a read returns 0 (EOF). */
	close(p[1]);
	struct aiocb eof;
	prep(&eof, p[0], bufs[0], REC, 0, LIO_READ);
	EXPECT_OK(aio_read(&eof));
	EXPECT_DONE(&eof, 0);
	close(p[0]);
}

int main(void)
{
	writes_in_order();
	reads_in_order();
	printf("pipe: %d writes and %d reads in submission order\n", N, N);
	return 0;
}
