/* Stream socketpair (pread gives ESPIPE on sockets; it must not leak out):
 * queued aio_writes arrive in submission order, queued aio_reads are served in
 * submission order, a read after the peer shut down returns 0, and a write
 * after it fails with EPIPE (SIGPIPE ignored). */
#include "common.h"

#define N 8
#define REC 16

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	static char recs[N][REC], bufs[N][REC];
	struct aiocb w[N], r[N];
	/* Reads first, on the empty side, so they are queued. */
	for (int i = 0; i < N; i++) {
		prep(&r[i], sv[1], bufs[i], REC, 0, LIO_READ);
		EXPECT_OK(aio_read(&r[i]));
	}
	for (int i = 0; i < N; i++) {
		memset(recs[i], 'a' + i, REC);
		prep(&w[i], sv[0], recs[i], REC, 0, LIO_WRITE);
		EXPECT_OK(aio_write(&w[i]));
	}
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&w[i], REC);
	/* A stream read may return fewer bytes than asked, so check the
	 * concatenation of what the reads got (in their submission order) plus
	 * whatever is left: it must be the records in write submission order. */
	char got[N * REC];
	size_t total = 0;
	for (int i = 0; i < N; i++) {
		int e = wait_done(&r[i]);
		if (e != 0)
			FAIL("read %d failed: %s", i, errname(e));
		ssize_t n = aio_return(&r[i]);
		CHECK(n > 0);
		memcpy(got + total, bufs[i], (size_t)n);
		total += (size_t)n;
	}
	while (total < sizeof got) {
		ssize_t n = read(sv[1], got + total, sizeof got - total);
		CHECK(n > 0);
		total += (size_t)n;
	}
	for (int i = 0; i < N; i++)
		for (int j = 0; j < REC; j++)
			if (got[i * REC + j] != 'a' + i)
				FAIL("stream byte %d is %c, expected %c",
				     i * REC + j, got[i * REC + j], 'a' + i);

	CHECK(shutdown(sv[0], SHUT_WR) == 0);
	struct aiocb eof;
	prep(&eof, sv[1], bufs[0], REC, 0, LIO_READ);
	EXPECT_OK(aio_read(&eof));
	EXPECT_DONE(&eof, 0);
	close(sv[1]);
	struct aiocb broken;
	prep(&broken, sv[0], recs[0], REC, 0, LIO_WRITE);
	EXPECT_OK(aio_write(&broken));
	EXPECT_FAILED(&broken, EPIPE);
	printf("socketpair: ordered writes and reads, EOF 0, EPIPE\n");
	return 0;
}
