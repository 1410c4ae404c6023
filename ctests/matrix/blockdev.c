/* matrix: once */
/* A block device (the harness's loop device, MATRIX_BLOCKDEV), buffered and
 * O_DIRECT: writes read back through the other path, reads at and past the
 * end, a misaligned O_DIRECT request; the position never moves. */
#include "matrix.h"

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	const char *dev = getenv("MATRIX_BLOCKDEV");
	if (dev == NULL) {
		const char *why = getenv("MATRIX_BLOCKDEV_MISSING");
		skip("no block device from the harness: %s", why ? why : "MATRIX_BLOCKDEV unset");
	}
	int fd = open(dev, O_RDWR);
	if (fd < 0)
		skip("open %s: %s", dev, strerror(errno));
	off_t size = lseek(fd, 0, SEEK_END);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	printf("~device %s, %lld bytes\n", dev, (long long)size);
	enum { BS = 4096, LEN = 16 * BS };
	unsigned char *buf, *back;
	CHECK(posix_memalign((void **)&buf, BS, LEN) == 0);
	CHECK(posix_memalign((void **)&back, BS, LEN) == 0);
	fill_pattern(buf, LEN, 21, 0);
	one("buffered write", LIO_WRITE, fd, buf, LEN, 1 << 20);
	one("buffered fsync", O_SYNC, fd, NULL, 0, 0);
	print_pos("buffered", fd);

	int dfd = open(dev, O_RDWR | O_DIRECT);
	if (dfd < 0) {
		printf("open O_DIRECT: %s\n", ename(errno));
	} else {
		memset(back, 0, LEN);
		one("direct read of buffered data", LIO_READ, dfd, back, LEN, 1 << 20);
		printf("data: %s\n", find_mismatch(back, LEN, 21, 0) < 0 ? "ok" : "WRONG");
		fill_pattern(buf, LEN, 22, 0);
		one("direct write", LIO_WRITE, dfd, buf, LEN, 2 << 20);
		one("direct misaligned offset", LIO_READ, dfd, back, BS, 100);
		one("direct read at the end", LIO_READ, dfd, back, BS, size);
		one("direct read across the end", LIO_READ, dfd, back, 2 * BS, size - BS);
		one("direct fsync", O_DSYNC, dfd, NULL, 0, 0);
		print_pos("direct", dfd);
		close(dfd);
		memset(back, 0, LEN);
		one("buffered read of direct data", LIO_READ, fd, back, LEN, 2 << 20);
		printf("data: %s\n", find_mismatch(back, LEN, 22, 0) < 0 ? "ok" : "WRONG");
	}
	one("buffered read past the end", LIO_READ, fd, back, BS, size + BS);
	one("buffered write at the end", LIO_WRITE, fd, buf, BS, size);
	print_pos("buffered", fd);
	close(fd);
	return 0;
}
