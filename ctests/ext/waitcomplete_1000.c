/* 1000 requests in flight, reaped one by one with aio_waitcomplete: 600
 * one-byte reads waiting on 60 socketpairs (10 each) and 400 reads of a
 * regular file. Each request comes out exactly once, with its own result
 * (socket reads: 1 byte, in each socket's submission order; file reads: 512
 * bytes of the right data); then nothing is left. */
#include "ext.h"

#define SOCKS 60
#define PER_SOCK 10
#define NSOCK (SOCKS * PER_SOCK)
#define NFILE 400
#define N (NSOCK + NFILE)
#define SZ 512

int main(void)
{
	ENABLE_QUEUE();
	int fd = tmp_file("wc-1000");
	static unsigned char data[NFILE * SZ], dst[NFILE][SZ];
	fill_pattern(data, sizeof data, 81, 0);
	must_pwrite(fd, data, sizeof data, 0);
	int sv[SOCKS][2];
	for (int s = 0; s < SOCKS; s++)
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[s]) == 0);

	static struct aiocb cbs[N];
	static unsigned char bytes[NSOCK];
	/* Request i < NSOCK: socket i / PER_SOCK, its (i % PER_SOCK)-th read. */
	for (int i = 0; i < NSOCK; i++) {
		prep(&cbs[i], sv[i / PER_SOCK][1], &bytes[i], 1, 0, LIO_READ);
		errno = 0;
		if (aio_read(&cbs[i]) != 0)
			FAIL("aio_read (socket) #%d: %s", i, errname(errno));
	}
	for (int j = 0; j < NFILE; j++) {
		int slot = (j * 7) % NFILE;
		prep(&cbs[NSOCK + j], fd, dst[j], SZ, (off_t)slot * SZ, LIO_READ);
		errno = 0;
		if (aio_read(&cbs[NSOCK + j]) != 0)
			FAIL("aio_read (file) #%d: %s", j, errname(errno));
	}
	/* Feed the sockets, last first: byte k of socket s is s * PER_SOCK + k. */
	for (int s = SOCKS - 1; s >= 0; s--) {
		unsigned char msg[PER_SOCK];
		for (int k = 0; k < PER_SOCK; k++)
			msg[k] = (unsigned char)(s * PER_SOCK + k);
		must_write(sv[s][0], msg, PER_SOCK);
	}

	static unsigned char seen[N];
	int sock_done = 0, file_done = 0;
	for (int n = 0; n < N; n++) {
		struct aiocb *got;
		int err;
		ssize_t r = reap(&got, &err);
		if (got < cbs || got >= cbs + N)
			FAIL("completion %d: unknown aiocb %p", n, (void *)got);
		int i = (int)(got - cbs);
		if (seen[i]++)
			FAIL("completion %d: request %d returned a second time", n, i);
		if (i < NSOCK) {
			if (r != 1)
				FAIL("socket read %d: %zd (%s)", i, r, errname(err));
			sock_done++;
		} else {
			if (r != SZ)
				FAIL("file read %d: %zd (%s)", i - NSOCK, r, errname(err));
			file_done++;
		}
	}
	EXPECT_NOTHING_WAITING();
	for (int i = 0; i < NSOCK; i++)
		if (bytes[i] != (unsigned char)i)
			FAIL("socket %d read %d got byte %u, expected %u (out of order?)",
			     i / PER_SOCK, i % PER_SOCK, bytes[i], (unsigned char)i);
	for (int j = 0; j < NFILE; j++)
		EXPECT_PATTERN(dst[j], SZ, 81, (long long)((j * 7) % NFILE) * SZ);
	printf("%d requests (%d socket, %d file) reaped, each exactly once\n", N,
	       sock_done, file_done);
	for (int s = 0; s < SOCKS; s++) {
		close(sv[s][0]);
		close(sv[s][1]);
	}
	close(fd);
	return 0;
}
