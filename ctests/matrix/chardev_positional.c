/* matrix: once */
/* A character device whose reads honour the offset (/dev/vcsa, /dev/vcs1:
 * the console's screen memory): aio_read at aio_offset must return what
 * pread returns there and leave the file position alone. */
#include "matrix.h"

static void check_device(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("~%s: %s\n", path, strerror(errno));
		return;
	}
	/* Move the position away from 0, so a read at the position differs
	 * from a read at the offset. */
	char scratch[64];
	ssize_t moved = read(fd, scratch, 60);
	printf("%s: read 60 at position 0: %zd\n", path, moved);
	print_pos(path, fd);
	char want[16], got[16];
	ssize_t n = pread(fd, want, sizeof want, 4);
	printf("%s pread at 4: %zd\n", path, n);
	memset(got, 0, sizeof got);
	one("aio_read at 4", LIO_READ, fd, got, sizeof got, 4);
	printf("same bytes as pread: %s\n",
	       n > 0 && memcmp(want, got, (size_t)n) == 0 ? "yes" : "no");
	print_pos(path, fd);
	struct aiocb cbs[4];
	char bufs[4][8];
	for (int i = 0; i < 4; i++) {
		prep(&cbs[i], fd, bufs[i], 8, 8 * i, LIO_READ);
		CHECK(aio_read(&cbs[i]) == 0);
	}
	int same = 1;
	for (int i = 0; i < 4; i++) {
		printf("read %d at %d: %s\n", i, 8 * i, finish(&cbs[i], "read"));
		char direct[8];
		same &= pread(fd, direct, 8, 8 * i) == 8 && memcmp(direct, bufs[i], 8) == 0;
	}
	printf("four reads match pread: %s\n", same ? "yes" : "no");
	print_pos(path, fd);
	close(fd);
}

int main(int argc, char **argv)
{
	matrix_start(argc, argv);
	const char *devs[] = { "/dev/vcsa", "/dev/vcs1" };
	int found = 0;
	for (unsigned i = 0; i < sizeof devs / sizeof devs[0]; i++)
		found += access(devs[i], R_OK) == 0;
	if (!found)
		skip("no readable /dev/vcsa or /dev/vcs1 (no virtual console)");
	for (unsigned i = 0; i < sizeof devs / sizeof devs[0]; i++)
		check_device(devs[i]);
	return 0;
}
