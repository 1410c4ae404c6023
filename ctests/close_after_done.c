/* A request is done, then the program closes the descriptor: the file is
 * closed for real, as on glibc, whose worker held no reference of its own.
 * paio keeps a private duplicate of the descriptor while a request waits
 * (so a close and reuse of the number cannot redirect it); it must have
 * given it back before aio_error shows the result.
 *
 * Observed through the pipe and socket rules: after an aio_read of the only
 * read end completes and that end is closed, a write on the other end fails
 * with EPIPE; the same for an aio_write on the write end, whose peer then
 * reads end of file. Rounds of each, with the result watched by spinning on
 * aio_error (no sleep that would hide a late release). */
#include "common.h"

#define ROUNDS 300

static int pipe_reader_closed(void)
{
	int failures = 0;
	static char buf[64];
	for (int i = 0; i < ROUNDS; i++) {
		int p[2];
		CHECK(pipe(p) == 0);
		struct aiocb cb;
		prep(&cb, p[0], buf, sizeof buf, 0, LIO_READ);
		EXPECT_OK(aio_read(&cb));
		CHECK(write(p[1], "0123456789", 10) == 10);
		while (aio_error(&cb) == EINPROGRESS)
			;
		EXPECT_EQ(aio_return(&cb), 10);
		CHECK(close(p[0]) == 0);
		errno = 0;
		ssize_t r = write(p[1], "x", 1);
		failures += !(r == -1 && errno == EPIPE);
		CHECK(close(p[1]) == 0);
	}
	return failures;
}

static int socket_writer_closed(void)
{
	int failures = 0;
	for (int i = 0; i < ROUNDS; i++) {
		int s[2];
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
		struct aiocb cb;
		prep(&cb, s[0], "abcdef", 6, 0, LIO_WRITE);
		EXPECT_OK(aio_write(&cb));
		while (aio_error(&cb) == EINPROGRESS)
			;
		EXPECT_EQ(aio_return(&cb), 6);
		CHECK(close(s[0]) == 0);
		char got[16];
		ssize_t n = read(s[1], got, sizeof got);
		EXPECT_EQ(n, 6);
		/* The only other end is closed: end of file, not a wait. */
		n = read(s[1], got, sizeof got);
		failures += n != 0;
		CHECK(close(s[1]) == 0);
	}
	return failures;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(30);
	printf("pipe, read end closed after its read: %d of %d writes not EPIPE\n",
	       pipe_reader_closed(), ROUNDS);
	printf("socket closed after its write: %d of %d peer reads not at EOF\n",
	       socket_writer_closed(), ROUNDS);
	return 0;
}
