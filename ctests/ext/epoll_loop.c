/* paio_completion_fd in an epoll loop: one thread echoes a socket and
 * collects file reads (aio_read) together. The README's example. */
#include "../common.h"
#include <paio.h>
#include <sys/epoll.h>

#define NREADS 16
#define CHUNK 4096
static const char msg[] = "hello, echo";

int main(void)
{
	/* A file to read, and a socket whose peer (sv[0]) sent a message. */
	int file = tmp_file("epoll");
	static char data[NREADS * CHUNK], bufs[NREADS][CHUNK];
	fill_pattern(data, sizeof data, 7, 0);
	must_pwrite(file, data, sizeof data, 0);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	must_write(sv[0], msg, sizeof msg);

	/* One epoll set: the socket and paio's completion descriptor. */
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int done_fd = paio_completion_fd();
	CHECK(ep >= 0 && done_fd >= 0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = done_fd };
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, done_fd, &ev) == 0);
	ev.data.fd = sv[1];
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev) == 0);

	static struct aiocb cbs[NREADS];
	for (int i = 0; i < NREADS; i++) {
		prep(&cbs[i], file, bufs[i], CHUNK, (off_t)i * CHUNK, LIO_READ);
		CHECK(aio_read(&cbs[i]) == 0);
	}

	int reads_done = 0, echoed = 0;
	while (reads_done < NREADS || echoed < (int)sizeof msg) {
		struct epoll_event evs[2];
		int n = epoll_wait(ep, evs, 2, WAIT_MS);
		CHECK(n > 0);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == done_fd) {
				uint64_t count;	/* reset, then take every completion */
				CHECK(read(done_fd, &count, sizeof count) == sizeof count);
				const struct timespec poll_only = { 0, 0 };
				struct aiocb *cb;
				for (;;) {
					ssize_t r = aio_waitcomplete(&cb, &poll_only);
					if (cb == NULL)	/* EAGAIN: none left */
						break;
					CHECK(r == CHUNK);
					EXPECT_PATTERN((void *)cb->aio_buf, CHUNK, 7, cb->aio_offset);
					reads_done++;
				}
			} else {
				char buf[64];	/* echo what the socket has */
				ssize_t r = read(sv[1], buf, sizeof buf);
				if (r > 0) {
					must_write(sv[1], buf, (size_t)r);
					echoed += (int)r;
				}
			}
		}
	}

	char back[sizeof msg];
	CHECK(read(sv[0], back, sizeof back) == sizeof back);
	CHECK(memcmp(back, msg, sizeof msg) == 0);
	printf("epoll loop: %d file reads and a %d-byte echo\n", reads_done, echoed);
	return 0;
}
