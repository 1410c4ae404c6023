/* matrix: once */
/* /proc and /sys files are read at aio_offset (not at the file position),
 * like pread; their position stays where the program left it. */
#include "matrix.h"

static void check_file(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("%s: open %s\n", path, ename(errno));
		return;
	}
	char buf[256], want[256];
	memset(buf, 0, sizeof buf);
	ssize_t n = one(path, LIO_READ, fd, buf, sizeof buf - 1, 0);
	ssize_t w = pread(fd, want, sizeof want - 1, 0);
	printf("  same as pread: %s\n", n == w && n >= 0 && memcmp(buf, want, (size_t)n) == 0 ? "yes" : "no");
	memset(buf, 0, sizeof buf);
	ssize_t m = one("  at offset 2", LIO_READ, fd, buf, sizeof buf - 1, 2);
	w = pread(fd, want, sizeof want - 1, 2);
	printf("  same as pread at 2: %s\n", m == w && m >= 0 && memcmp(buf, want, (size_t)m) == 0 ? "yes" : "no");
	char one_byte;
	printf("  read 1 at position: %zd\n", read(fd, &one_byte, 1));
	memset(buf, 0, sizeof buf);
	m = one("  at offset 0 after read", LIO_READ, fd, buf, sizeof buf - 1, 0);
	print_pos("  ", fd);
	one("  write", LIO_WRITE, fd, buf, 1, 0);
	close(fd);
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	check_file("/proc/sys/kernel/ostype");
	check_file("/proc/sys/kernel/osrelease");
	check_file("/sys/kernel/mm/transparent_hugepage/enabled");
	check_file("/proc/self/comm");
	return 0;
}
