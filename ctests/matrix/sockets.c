/* matrix: once */
/* Unix (stream, datagram, seqpacket) and TCP loopback sockets: a read
 * waiting for data, writes read back, message boundaries, a large write
 * drained by the peer, EOF, EPIPE (SIGPIPE ignored). */
#include "matrix.h"
#include <netinet/in.h>
#include <netinet/tcp.h>

/* stream: 1 a byte stream, 0 datagrams, -1 datagrams without an end of
 * stream (SOCK_DGRAM). */
static void exercise(const char *kind, int a, int b, int stream)
{
	printf("%s:\n", kind);
	char buf[64] = { 0 };
	struct aiocb rd;
	prep(&rd, a, buf, sizeof buf, 0, LIO_READ);
	CHECK(aio_read(&rd) == 0);
	let_worker_start();
	printf("  read before data: %s\n", ename(aio_error(&rd)));
	must_write(b, "ping", 4);
	printf("  read: %s \"%s\"\n", finish(&rd, "read"), buf);
	one("  write", LIO_WRITE, a, "pong!", 5, 0);
	memset(buf, 0, sizeof buf);
	printf("  peer got %zd \"%s\"\n", read(b, buf, sizeof buf), buf);
	/* Two messages: a datagram socket keeps them apart. */
	must_write(b, "one", 3);
	must_write(b, "two", 3);
	memset(buf, 0, sizeof buf);
	if (stream > 0)
		let_worker_start();
	one("  read two messages", LIO_READ, a, buf, sizeof buf, 0);
	printf("  data \"%s\"\n", buf);
	if (stream <= 0) {
		memset(buf, 0, sizeof buf);
		one("  read second message", LIO_READ, a, buf, sizeof buf, 0);
		printf("  data \"%s\"\n", buf);
	}
	if (stream > 0) {
		enum { BIG = 1 << 20 };
		static char big[BIG];
		fill_pattern(big, BIG, 5, 0);
		printf("  big sum %lx\n", cksum(big, BIG));
		struct drain d;
		drain_start(&d, b, BIG);
		one("  big write", LIO_WRITE, a, big, BIG, 0);
		drain_join(&d, "  ");
	}
	if (stream >= 0) {
		/* A datagram socket has no end of stream. */
		CHECK(shutdown(b, SHUT_WR) == 0);
		one("  read after peer shutdown", LIO_READ, a, buf, sizeof buf, 0);
	}
	close(b);
	one("  write after peer closed", LIO_WRITE, a, "x", 1, 0);
	close(a);
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	exercise("unix stream", sv[0], sv[1], 1);
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	exercise("unix datagram", sv[0], sv[1], -1);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	exercise("unix seqpacket", sv[0], sv[1], 0);

	int l = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(l >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	if (bind(l, (struct sockaddr *)&sa, sizeof sa) != 0)
		skip("cannot bind a TCP socket on 127.0.0.1: %s", strerror(errno));
	CHECK(listen(l, 1) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&sa, &len) == 0);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(c >= 0);
	CHECK(connect(c, (struct sockaddr *)&sa, sizeof sa) == 0);
	int s = accept(l, NULL, NULL);
	CHECK(s >= 0);
	int on = 1;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	exercise("tcp loopback", s, c, 1);
	close(l);
	return 0;
}
