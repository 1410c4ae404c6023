/* A NULL aiocb pointer: aio_read, aio_write, aio_fsync, aio_error and
 * aio_return return -1/EINVAL (paio), and so do the *64 names. glibc 2.36
 * crashes (SIGSEGV) in each: an intentional difference; under glibc each call
 * runs in a child and its fate is printed. aio_cancel(fd, NULL) is valid and
 * means "every request on fd". */
#include "common.h"

static long do_read(void) { return aio_read(hidden_null()); }
static long do_write(void) { return aio_write(hidden_null()); }
static long do_fsync(void) { return aio_fsync(O_SYNC, hidden_null()); }
static long do_error(void) { return aio_error(hidden_null()); }
static long do_return(void) { return aio_return(hidden_null()); }
static long do_read64(void) { return aio_read64(hidden_null()); }
static long do_write64(void) { return aio_write64(hidden_null()); }
static long do_fsync64(void) { return aio_fsync64(O_DSYNC, hidden_null()); }
static long do_error64(void) { return aio_error64(hidden_null()); }
static long do_return64(void) { return aio_return64(hidden_null()); }

static const struct {
	const char *name;
	long (*fn)(void);
} calls[] = {
	{ "aio_read", do_read },     { "aio_write", do_write },
	{ "aio_fsync", do_fsync },   { "aio_error", do_error },
	{ "aio_return", do_return }, { "aio_read64", do_read64 },
	{ "aio_write64", do_write64 }, { "aio_fsync64", do_fsync64 },
	{ "aio_error64", do_error64 }, { "aio_return64", do_return64 },
};

int main(void)
{
	for (unsigned i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		if (is_paio()) {
			errno = 0;
			long r = calls[i].fn();
			int e = errno;
			if (r != -1 || e != EINVAL)
				FAIL("%s(NULL) returned %ld errno %s, expected -1 EINVAL",
				     calls[i].name, r, errname(e));
			printf("%s(NULL) -> -1 EINVAL\n", calls[i].name);
		} else {
			printf("glibc: %s(NULL): %s\n", calls[i].name,
			       probe_in_child(calls[i].fn));
		}
	}
	int fd = tmp_file("nullcb");
	EXPECT_EQ(aio_cancel(fd, NULL), AIO_ALLDONE);
	close(fd);
	return 0;
}
