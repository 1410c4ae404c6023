/* matrix: filesystems */
/* A directory: reads fail with EISDIR, a write on a read-only descriptor
 * with EBADF, fsync works. */
#include "matrix.h"

int main(int argc, char **argv)
{
	const char *dir = matrix_start(argc, argv);
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	char buf[64];
	one("read directory", LIO_READ, fd, buf, sizeof buf, 0);
	one("read directory at 4096", LIO_READ, fd, buf, sizeof buf, 4096);
	one("write directory", LIO_WRITE, fd, buf, sizeof buf, 0);
	one("fsync directory", O_SYNC, fd, NULL, 0, 0);
	one("fdatasync directory", O_DSYNC, fd, NULL, 0, 0);
	print_pos("directory", fd);
	close(fd);
	return 0;
}
