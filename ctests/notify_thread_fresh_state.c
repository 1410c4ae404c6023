/* Every SIGEV_THREAD callback starts with a new thread's state, as on glibc
 * (which starts a thread per callback), whatever the callbacks before it
 * left: rounding to nearest with no floating-point exception trapped (a
 * trap left enabled made a later callback's 1/0 kill the process with
 * SIGFPE), the global locale, no alternate signal stack. Each of 16
 * callbacks, run one after the other, first reports what it found, then
 * changes all of it and returns without putting it back. */
#include "common.h"
#include <fenv.h>
#include <locale.h>
#include <math.h>

#define ROUNDS 16

static atomic_int ran;
static atomic_int dirty_found;
static volatile double zero = 0.0;

static void callback(union sigval v)
{
	(void)v;
	int dirty = 0;
	if (fegetround() != FE_TONEAREST)
		dirty |= 1;
	if (fegetexcept() != 0)
		dirty |= 2;
	if (uselocale((locale_t)0) != LC_GLOBAL_LOCALE)
		dirty |= 4;
	stack_t ss;
	if (sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE))
		dirty |= 8;
	/* Would die of SIGFPE with the trap an earlier callback left. */
	volatile double inf = 1.0 / zero;
	if (!isinf(inf))
		dirty |= 16;
	if (dirty)
		atomic_fetch_or(&dirty_found, dirty);

	/* Leave everything changed. */
	fesetround(FE_UPWARD);
	feenableexcept(FE_DIVBYZERO);
	locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (c != (locale_t)0)
		uselocale(c);
	static char stacks[ROUNDS][64 * 1024];
	stack_t mine = { .ss_sp = stacks[atomic_load(&ran) % ROUNDS], .ss_size = sizeof stacks[0] };
	sigaltstack(&mine, NULL);
	atomic_fetch_add(&ran, 1);
}

int main(void)
{
	int fd = tmp_file("fresh");
	char c = 'x';
	CHECK(pwrite(fd, &c, 1, 0) == 1);
	for (int i = 0; i < ROUNDS; i++) {
		char buf[1];
		struct aiocb cb;
		prep(&cb, fd, buf, 1, 0, LIO_READ);
		cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
		cb.aio_sigevent.sigev_notify_function = callback;
		EXPECT_OK(aio_read(&cb));
		EXPECT_DONE(&cb, 1);
		wait_flag(&ran, i + 1);
	}
	int d = atomic_load(&dirty_found);
	printf("%d callbacks ran one after the other\n", atomic_load(&ran));
	printf("rounding left by another: %s\n", d & 1 ? "seen" : "never");
	printf("exception trap left by another: %s\n", d & 2 ? "seen" : "never");
	printf("locale left by another: %s\n", d & 4 ? "seen" : "never");
	printf("alternate signal stack left by another: %s\n", d & 8 ? "seen" : "never");
	printf("1/0 gave infinity: %s\n", d & 16 ? "not always" : "always");
	return 0;
}
