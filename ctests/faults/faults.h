/* Shared helpers for the fault-injection programs in ctests/faults/, run by
 * ctests/tests/faults.rs under LD_PRELOAD=libpaio.so after it has set up the
 * fault (a full filesystem, a failing block device, a seccomp filter, a
 * lowered sysctl, a pids cgroup...). Each program checks the exact error each
 * faulty request reports through aio_error/aio_return, and that the requests
 * submitted beside it are unaffected. Exit 0 pass, 77 skipped (reason
 * printed), anything else a failure explained on stderr. */
#ifndef PAIO_FAULTS_H
#define PAIO_FAULTS_H

#include "../common.h"

/* Submit a read or write and fail unless it is accepted. */
#define SUBMIT(cb)                                                             \
	do {                                                                   \
		struct aiocb *c_ = (cb);                                       \
		errno = 0;                                                     \
		int r_ = c_->aio_lio_opcode == LIO_WRITE ? aio_write(c_)       \
							 : aio_read(c_);       \
		if (r_ != 0)                                                   \
			FAIL("submitting %s returned %d errno %s", #cb, r_,    \
			     errname(errno));                                  \
	} while (0)

/* A request refused at submission with `err`, and its aiocb shows it. */
#define EXPECT_REFUSED(call, cb, err)                                          \
	do {                                                                   \
		EXPECT_SYSERR(call, err);                                      \
		EXPECT_ERRNO(aio_error(cb), err);                              \
	} while (0)

/* Page-aligned buffer of n bytes (for O_DIRECT). */
static UNUSED void *aligned(size_t n)
{
	void *p = NULL;
	CHECK(posix_memalign(&p, 4096, n) == 0);
	memset(p, 0, n);
	return p;
}

static atomic_int callbacks;
static UNUSED void count_callback(union sigval v)
{
	(void)v;
	atomic_fetch_add(&callbacks, 1);
}

static atomic_int signals_seen;
static UNUSED void count_signal(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	if (si->si_code == SI_ASYNCIO)
		atomic_fetch_add(&signals_seen, 1);
}

#endif
