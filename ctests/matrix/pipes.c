/* matrix: once */
/* Pipes: a read waiting for data, reads and writes in submission order,
 * a write larger than the pipe, a short read, EOF, EPIPE (SIGPIPE ignored),
 * the wrong end; the offset is ignored. */
#include "matrix.h"

static int wfd_for_thread;

static size_t drained_bytes;
static unsigned long drained_sum;

/* Read what the peer sends (with every signal blocked) and keep a sum of it;
 * the main thread prints it after joining, so the output's order is fixed. */
static void *drain(void *arg)
{
	block_all_signals();
	static char sink[256 * 1024];
	size_t want = (size_t)(uintptr_t)arg, got = 0;
	unsigned long h = 1469598103934665603ul;
	while (got < want) {
		ssize_t r = read(wfd_for_thread, sink, sizeof sink);
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			h = (h ^ (unsigned char)sink[i]) * 1099511628211ul;
		got += (size_t)r;
	}
	drained_bytes = got;
	drained_sum = h;
	return NULL;
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	int p[2];
	CHECK(pipe(p) == 0);
	char buf[64] = { 0 };
	struct aiocb rd[3];
	char parts[3][4] = { { 0 } };
	for (int i = 0; i < 3; i++) {
		prep(&rd[i], p[0], parts[i], 3, 1000 * i, LIO_READ);
		CHECK(aio_read(&rd[i]) == 0);
	}
	let_worker_start();
	printf("first read before data: %s\n", ename(aio_error(&rd[0])));
	must_write(p[1], "aaabbbccc", 9);
	for (int i = 0; i < 3; i++)
		printf("read %d: %s \"%s\"\n", i, finish(&rd[i], "read"), parts[i]);
	one("write", LIO_WRITE, p[1], "xyz", 3, 77);
	one("short read", LIO_READ, p[0], buf, sizeof buf, 0);
	one("read on the write end", LIO_READ, p[1], buf, 1, 0);
	one("write on the read end", LIO_WRITE, p[0], buf, 1, 0);
	print_pos("pipe", p[0]);

	/* 256 KiB written in one request while a thread drains the pipe. */
	enum { BIG = 256 * 1024 };
	static char big[BIG];
	fill_pattern(big, BIG, 3, 0);
	printf("big sum %lx\n", cksum(big, BIG));
	wfd_for_thread = p[0];
	pthread_t t;
	CHECK(pthread_create(&t, NULL, drain, (void *)(uintptr_t)BIG) == 0);
	one("big write", LIO_WRITE, p[1], big, BIG, 0);
	CHECK(pthread_join(t, NULL) == 0);
	printf("drained %zu bytes, sum %lx\n", drained_bytes, drained_sum);

	close(p[1]);
	one("read at EOF", LIO_READ, p[0], buf, sizeof buf, 0);
	int q[2];
	CHECK(pipe(q) == 0);
	close(q[0]);
	one("write without reader", LIO_WRITE, q[1], "x", 1, 0);
	close(q[1]);
	close(p[0]);
	return 0;
}
