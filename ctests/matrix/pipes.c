/* matrix: once */
/* Pipes: a read waiting for data, reads and writes in submission order,
 * a write larger than the pipe, a short read, EOF, EPIPE (SIGPIPE ignored),
 * the wrong end; the offset is ignored. */
#include "matrix.h"

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
	struct drain d;
	drain_start(&d, p[0], BIG);
	one("big write", LIO_WRITE, p[1], big, BIG, 0);
	drain_join(&d, "");

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
