/* A descriptor closed while its requests are in flight: every request still
 * completes against the file it was submitted for, with the right data, even
 * when the number is reused at once by another file (which stays untouched);
 * closing a pipe's write end ends pending reads with EOF (0); aio_fsync and
 * aio_cancel on the closed number give -1/EBADF. */
#include "faults.h"

#define NR 8
#define LEN 512

int main(void)
{
	/* Pipe reads pending, then the read end closed and its number reused. */
	int p[2];
	CHECK(pipe(p) == 0);
	static char bufs[NR][LEN];
	struct aiocb rd[NR];
	for (int i = 0; i < NR; i++) {
		prep(&rd[i], p[0], bufs[i], LEN, 0, LIO_READ);
		SUBMIT(&rd[i]);
	}
	int old = p[0];
	CHECK(close(p[0]) == 0);
	char path[PATH_MAX];
	int reuse = tmp_file_flags("fdclosed-reuse", path, 0);
	CHECK(reuse >= 0);
	CHECK(unlink(path) == 0);
	printf("~closed fd %d, reused as %d\n", old, reuse);
	static char stream[NR * LEN];
	fill_pattern(stream, sizeof stream, 4, 0);
	for (int i = 0; i < NR; i++) {
		must_write(p[1], stream + i * LEN, LEN);
		EXPECT_DONE(&rd[i], LEN);
		EXPECT_PATTERN(bufs[i], LEN, 4, (long long)i * LEN);
	}
	EXPECT_EQ(file_size(reuse), 0);
	printf("pipe reads pending when their fd was closed and reused complete from the pipe, in order\n");

	/* File: reads and writes in flight, the fd closed at once. */
	int fd = tmp_file("fdclosed-file");
	static char data[64 * 4096], got[64][4096];
	fill_pattern(data, sizeof data, 6, 0);
	must_pwrite(fd, data, 32 * 4096, 0);
	int keep = dup(fd);
	CHECK(keep >= 0);
	struct aiocb f[64];
	for (int i = 0; i < 64; i++) {
		if (i < 32)
			prep(&f[i], fd, got[i], 4096, (off_t)i * 4096, LIO_READ);
		else
			prep(&f[i], fd, data + i * 4096, 4096, (off_t)i * 4096, LIO_WRITE);
		SUBMIT(&f[i]);
	}
	CHECK(close(fd) == 0);
	int reuse2 = tmp_file("fdclosed-reuse2");
	for (int i = 0; i < 64; i++) {
		EXPECT_DONE(&f[i], 4096);
		if (i < 32)
			EXPECT_PATTERN(got[i], 4096, 6, (long long)i * 4096);
	}
	static char all[64 * 4096];
	must_pread(keep, all, sizeof all, 0);
	EXPECT_PATTERN(all, sizeof all, 6, 0);
	EXPECT_EQ(file_size(reuse2), 0);
	printf("64 file requests in flight when their fd was closed all complete on the right file\n");

	/* Socket: a write in flight, the fd closed; the peer gets the bytes. */
	int s[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	struct aiocb sw;
	prep(&sw, s[0], stream, 4096, 0, LIO_WRITE);
	SUBMIT(&sw);
	CHECK(close(s[0]) == 0);
	EXPECT_DONE(&sw, 4096);
	static char in[4096];
	size_t have = 0;
	while (have < sizeof in) {
		ssize_t r = read(s[1], in + have, sizeof in - have);
		CHECK(r > 0);
		have += (size_t)r;
	}
	EXPECT_PATTERN(in, sizeof in, 4, 0);
	printf("socket write in flight when its fd was closed reaches the peer\n");

	/* The write end closed: pending reads see EOF. */
	int q[2];
	CHECK(pipe(q) == 0);
	struct aiocb eof[3];
	for (int i = 0; i < 3; i++) {
		prep(&eof[i], q[0], bufs[i], LEN, 0, LIO_READ);
		SUBMIT(&eof[i]);
	}
	let_worker_start();
	CHECK(close(q[1]) == 0);
	for (int i = 0; i < 3; i++)
		EXPECT_DONE(&eof[i], 0);
	printf("pipe reads pending when the write end closed -> 0 (EOF)\n");

	struct aiocb cb;
	prep(&cb, q[1], NULL, 0, 0, 0);
	EXPECT_SYSERR(aio_fsync(O_SYNC, &cb), EBADF);
	EXPECT_SYSERR(aio_cancel(q[1], NULL), EBADF);
	printf("aio_fsync and aio_cancel on the closed number -> -1/EBADF\n");
	return 0;
}
