/* Requests of 0 bytes get the file's own answer, as glibc's read/write of 0
 * bytes does: the file is asked, not skipped. A directory refuses a read
 * (EISDIR), an eventfd a transfer shorter than 8 bytes (EINVAL), a
 * descriptor opened for the other direction either (EBADF); a pipe answers
 * 0; and a write of 0 bytes on a datagram or seqpacket socket sends an
 * empty datagram, which the peer receives. */
#include "common.h"
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

static void zero(const char *what, int op, int fd, off_t off)
{
	static char buf[16];
	struct aiocb cb;
	prep(&cb, fd, buf, 0, off, op);
	errno = 0;
	int r = op == LIO_READ ? aio_read(&cb) : aio_write(&cb);
	if (r != 0) {
		printf("%s: refused %s\n", what, errname(errno));
		return;
	}
	(void)what;
	int e = wait_done(&cb);
	ssize_t n = aio_return(&cb);
	printf("%s: %s %zd\n", what, e ? errname(e) : "ok", n);
}

/* Is a datagram waiting on fd (within 1 s), and of how many bytes? */
static void received(const char *what, int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int n = poll(&p, 1, 1000);
	char buf[16];
	ssize_t got = n > 0 ? recv(fd, buf, sizeof buf, MSG_DONTWAIT) : -1;
	printf("%s: %s, %zd bytes\n", what, n > 0 ? "a datagram arrived" : "nothing arrived", got);
}

int main(void)
{
	char path[PATH_MAX];
	int fd = tmp_file_flags("zero", path, 0);
	CHECK(fd >= 0);
	int ro = open(path, O_RDONLY), wo = open(path, O_WRONLY);
	CHECK(ro >= 0 && wo >= 0);
	unlink(path);
	zero("read of a file", LIO_READ, ro, 0);
	zero("write of a file", LIO_WRITE, wo, 0);
	zero("write on a read-only descriptor", LIO_WRITE, ro, 0);
	zero("read on a write-only descriptor", LIO_READ, wo, 0);
	int dir = open(tmp_dir(), O_RDONLY | O_DIRECTORY);
	CHECK(dir >= 0);
	zero("read of a directory", LIO_READ, dir, 0);
	int ev = eventfd(0, 0);
	CHECK(ev >= 0);
	zero("read of an eventfd", LIO_READ, ev, 0);
	zero("write of an eventfd", LIO_WRITE, ev, 0);
	int p[2];
	CHECK(pipe(p) == 0);
	zero("read of an empty pipe", LIO_READ, p[0], 0);
	zero("write of a pipe", LIO_WRITE, p[1], 0);
	zero("read of a pipe's write end", LIO_READ, p[1], 0);
	zero("write of a pipe's read end", LIO_WRITE, p[0], 0);

	int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(u1 >= 0 && u2 >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(u2, (struct sockaddr *)&sa, sizeof sa) == 0);
	socklen_t sl = sizeof sa;
	CHECK(getsockname(u2, (struct sockaddr *)&sa, &sl) == 0);
	CHECK(connect(u1, (struct sockaddr *)&sa, sizeof sa) == 0);
	zero("write on a UDP socket", LIO_WRITE, u1, 0);
	received("UDP peer", u2);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	zero("write on a unix datagram socket", LIO_WRITE, sv[0], 0);
	received("unix datagram peer", sv[1]);
	int sq[2];
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq) == 0);
	zero("write on a seqpacket socket", LIO_WRITE, sq[0], 0);
	received("seqpacket peer", sq[1]);
	return 0;
}
