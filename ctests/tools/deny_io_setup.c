/* deny_io_setup PROGRAM [ARGS...]: run PROGRAM with io_setup(2) failing with
 * EPERM, the way a container's seccomp profile denies it, and every other
 * system call untouched. The harness runs the scenarios under it with paio
 * preloaded (mode `preload-noaio`) to exercise paio's fallback from kernel
 * AIO to the worker pool.
 *
 * The filter: a system call of another architecture than the one this tool
 * was built for is allowed (nothing here runs one, and refusing it would
 * change more than io_setup); io_setup, including its x32 number, gets
 * EPERM; everything else is allowed. PR_SET_NO_NEW_PRIVS lets an
 * unprivileged process install the filter, and the filter survives execvp.
 *
 * Exit status: PROGRAM's, or 126 when the filter cannot be installed, 127
 * when PROGRAM cannot be run (as a shell does). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define THIS_ARCH AUDIT_ARCH_X86_64
#define X32_SYSCALL_BIT 0x40000000u
#define X32_IO_SETUP 543u
#elif defined(__aarch64__)
#define THIS_ARCH AUDIT_ARCH_AARCH64
#else
#error "deny_io_setup: add this architecture's AUDIT_ARCH value"
#endif

static struct sock_filter filter[] = {
	/* Another architecture: allow (see above). */
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, THIS_ARCH, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_setup, 2, 0),
#ifdef X32_SYSCALL_BIT
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, X32_SYSCALL_BIT | X32_IO_SETUP, 1, 0),
#else
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_setup, 1, 0),
#endif
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]);
		return 2;
	}
	struct sock_fprog prog = {
		.len = sizeof filter / sizeof filter[0],
		.filter = filter,
	};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		fprintf(stderr, "deny_io_setup: PR_SET_NO_NEW_PRIVS: %s\n",
			strerror(errno));
		return 126;
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
		fprintf(stderr, "deny_io_setup: SECCOMP_SET_MODE_FILTER: %s\n",
			strerror(errno));
		return 126;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "deny_io_setup: cannot run %s: %s\n", argv[1],
		strerror(errno));
	return 127;
}
