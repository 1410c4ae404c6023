/* Kernel AIO unavailable (io_setup denied by a seccomp filter, or
 * fs.aio-max-nr exhausted by the harness): paio falls back to its worker pool
 * and every kind of request still gives the right result.
 *
 *   fallback [--deny-io-setup] [--expect-io-setup ERRNO]
 *
 * --deny-io-setup installs, before any AIO call, a seccomp filter that makes
 * io_setup fail with EPERM (no_new_privs; no root needed). --expect-io-setup
 * first checks that io_setup itself fails with that errno here. */
#include "faults.h"
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>

static void deny_io_setup(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof f / sizeof f[0], f };
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0);
}

static void expect_io_setup(int err)
{
	unsigned long ctx = 0;
	errno = 0;
	long r = syscall(SYS_io_setup, 1, &ctx);
	if (r == 0) {
		syscall(SYS_io_destroy, ctx);
		FAIL("io_setup succeeded, expected %s", errname(err));
	}
	EXPECT_ERRNO(errno, err);
	printf("io_setup -> %s\n", errname(err));
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--deny-io-setup") == 0)
			deny_io_setup();
		else if (strcmp(argv[i], "--expect-io-setup") == 0 && i + 1 < argc)
			expect_io_setup(atoi(argv[++i]));
		else
			FAIL("unknown argument %s", argv[i]);
	}
	int sig = SIGRTMIN + 1;
	install_siginfo_handler(sig, count_signal);

	/* Buffered: write 64 KiB in 16 requests, fsync both ways, read back. */
	int fd = tmp_file("fallback");
	static char data[65536], got[65536];
	fill_pattern(data, sizeof data, 8, 0);
	struct aiocb w[16], r[16], fs, fds;
	struct aiocb *wl[16], *rl[16];
	for (int i = 0; i < 16; i++) {
		prep(&w[i], fd, data + i * 4096, 4096, (off_t)i * 4096, LIO_WRITE);
		wl[i] = &w[i];
	}
	w[3].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	w[3].aio_sigevent.sigev_signo = sig;
	w[4].aio_sigevent.sigev_notify = SIGEV_THREAD;
	w[4].aio_sigevent.sigev_notify_function = count_callback;
	EXPECT_OK(lio_listio(LIO_WAIT, wl, 16, NULL));
	for (int i = 0; i < 16; i++)
		EXPECT_DONE(&w[i], 4096);
	prep(&fs, fd, NULL, 0, 0, 0);
	prep(&fds, fd, NULL, 0, 0, 0);
	EXPECT_OK(aio_fsync(O_SYNC, &fs));
	EXPECT_OK(aio_fsync(O_DSYNC, &fds));
	EXPECT_DONE(&fs, 0);
	EXPECT_DONE(&fds, 0);
	struct sigevent lev = { 0 };
	lev.sigev_notify = SIGEV_SIGNAL;
	lev.sigev_signo = sig;
	for (int i = 0; i < 16; i++) {
		prep(&r[i], fd, got + i * 4096, 4096, (off_t)i * 4096, LIO_READ);
		rl[i] = &r[i];
	}
	EXPECT_OK(lio_listio(LIO_NOWAIT, rl, 16, &lev));
	for (int i = 0; i < 16; i++)
		EXPECT_DONE(&r[i], 4096);
	EXPECT_PATTERN(got, sizeof got, 8, 0);
	wait_flag(&signals_seen, 2);
	wait_flag(&callbacks, 1);
	printf("buffered: 16 writes (LIO_WAIT), fsync O_SYNC and O_DSYNC, 16 reads (LIO_NOWAIT) correct; notifications delivered\n");

	/* O_DIRECT. */
	char path[PATH_MAX];
	int dfd = tmp_file_flags("fallback-direct", path, O_DIRECT);
	if (dfd >= 0) {
		CHECK(unlink(path) == 0);
		char *dbuf = aligned(65536), *dgot = aligned(65536);
		fill_pattern(dbuf, 65536, 9, 0);
		struct aiocb dw, dr;
		prep(&dw, dfd, dbuf, 65536, 0, LIO_WRITE);
		SUBMIT(&dw);
		EXPECT_DONE(&dw, 65536);
		prep(&dr, dfd, dgot, 65536, 0, LIO_READ);
		SUBMIT(&dr);
		EXPECT_DONE(&dr, 65536);
		EXPECT_PATTERN(dgot, 65536, 9, 0);
		printf("O_DIRECT write and read correct\n");
	} else {
		printf("~O_DIRECT unavailable: %s\n", strerror(errno));
	}

	/* A pipe: reads pending before the data, in order. */
	int p[2];
	CHECK(pipe(p) == 0);
	static char pb[4][1000], stream[4000];
	fill_pattern(stream, sizeof stream, 10, 0);
	struct aiocb pr[4];
	for (int i = 0; i < 4; i++) {
		prep(&pr[i], p[0], pb[i], 1000, 0, LIO_READ);
		SUBMIT(&pr[i]);
	}
	for (int i = 0; i < 4; i++) {
		must_write(p[1], stream + i * 1000, 1000);
		EXPECT_DONE(&pr[i], 1000);
		EXPECT_PATTERN(pb[i], 1000, 10, (long long)i * 1000);
	}
	printf("pipe reads pending before the data complete in order\n");

	/* A socketpair, both ways. */
	int s[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	struct aiocb sr, sw;
	static char sbuf[3000];
	prep(&sr, s[1], sbuf, sizeof sbuf, 0, LIO_READ);
	SUBMIT(&sr);
	prep(&sw, s[0], stream, 3000, 0, LIO_WRITE);
	SUBMIT(&sw);
	EXPECT_DONE(&sw, 3000);
	int e = wait_done(&sr);
	EXPECT_ERRNO(e, 0);
	ssize_t n = aio_return(&sr);
	CHECK(n > 0 && n <= 3000);
	EXPECT_PATTERN(sbuf, (size_t)n, 10, 0);
	printf("socketpair write and read correct\n");
	return 0;
}
