/* matrix: once */
/* The standard character devices: /dev/zero reads zeros at any offset,
 * /dev/null reads EOF and swallows writes, /dev/full fails writes with
 * ENOSPC, /dev/urandom gives the length asked. */
#include "matrix.h"

static int open_dev(const char *path, int flags)
{
	int fd = open(path, flags);
	if (fd < 0)
		skip("cannot open %s: %s", path, strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	static char buf[8192];
	int fd = open_dev("/dev/zero", O_RDWR);
	memset(buf, 0x55, sizeof buf);
	one("zero read", LIO_READ, fd, buf, sizeof buf, 12345);
	printf("zero data: %lx\n", cksum(buf, sizeof buf));
	one("zero write", LIO_WRITE, fd, buf, 100, 0);
	print_pos("zero", fd);
	close(fd);

	fd = open_dev("/dev/null", O_RDWR);
	one("null read", LIO_READ, fd, buf, sizeof buf, 0);
	one("null write", LIO_WRITE, fd, buf, sizeof buf, 1 << 20);
	one("null fsync", O_SYNC, fd, NULL, 0, 0);
	print_pos("null", fd);
	close(fd);

	fd = open_dev("/dev/full", O_RDWR);
	one("full write", LIO_WRITE, fd, buf, 100, 0);
	memset(buf, 0x55, sizeof buf);
	one("full read", LIO_READ, fd, buf, 100, 7);
	printf("full data: %lx\n", cksum(buf, 100));
	print_pos("full", fd);
	close(fd);

	fd = open_dev("/dev/urandom", O_RDONLY);
	one("urandom read", LIO_READ, fd, buf, 4096, 0);
	one("urandom read at 1 GiB", LIO_READ, fd, buf, 100, 1 << 30);
	one("urandom write", LIO_WRITE, fd, buf, 16, 0);
	close(fd);
	return 0;
}
