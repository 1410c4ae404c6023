/* Prints what the kernel AIO system calls answer in this process, one line
 * each, so the harness can check that deny_io_setup denies io_setup and
 * leaves the other calls alone:
 *   io_setup: 0 | -1 ERRNO
 *   io_destroy(0): -1 ERRNO      (EINVAL when the call reaches the kernel)
 *   io_submit(0): -1 ERRNO       (EINVAL likewise)
 *   getppid: ok */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *name(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case EINVAL: return "EINVAL";
	case EAGAIN: return "EAGAIN";
	case ENOSYS: return "ENOSYS";
	default: return strerror(e);
	}
}

static void show(const char *what, long r, int e)
{
	if (r == 0)
		printf("%s: 0\n", what);
	else
		printf("%s: %ld %s\n", what, r, name(e));
}

int main(void)
{
	aio_context_t ctx = 0;
	errno = 0;
	long r = syscall(SYS_io_setup, 8, &ctx);
	show("io_setup", r, errno);
	if (r == 0)
		syscall(SYS_io_destroy, ctx);
	errno = 0;
	r = syscall(SYS_io_destroy, (aio_context_t)0);
	show("io_destroy(0)", r, errno);
	errno = 0;
	r = syscall(SYS_io_submit, (aio_context_t)0, 0L, NULL);
	show("io_submit(0)", r, errno);
	printf("getppid: %s\n", getppid() > 0 ? "ok" : "failed");
	return 0;
}
