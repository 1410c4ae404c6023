/* SIGEV_THREAD with a pthread_attr_t (detached, 1 MiB + 64 KiB stack): the
 * callback runs on a thread whose attributes honour it, checked from inside
 * the callback with pthread_getattr_np. */
#include "common.h"

#define STACK ((size_t)(1 << 20) + (64 << 10))

static atomic_int count, stack_ok, detached_ok, value_ok;
static atomic_long seen_stack;

static void callback(union sigval v)
{
	pthread_attr_t a;
	size_t size = 0;
	int ds = -1;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getstacksize(&a, &size);
		pthread_attr_getdetachstate(&a, &ds);
		pthread_attr_destroy(&a);
	}
	atomic_store(&seen_stack, (long)size);
	if (size >= STACK && size < STACK + (1 << 20))
		atomic_fetch_add(&stack_ok, 1);
	if (ds == PTHREAD_CREATE_DETACHED)
		atomic_fetch_add(&detached_ok, 1);
	/* Use a good part of the requested stack: a thread with a default
	 * small pool stack would still survive this, so the size check above
	 * is the real test; this one catches a stack far smaller than asked. */
	volatile char big[512 << 10];
	big[0] = 1;
	big[sizeof big - 1] = 1;
	if (v.sival_int == 4242)
		atomic_fetch_add(&value_ok, 1);
	atomic_fetch_add(&count, 1);
}

int main(void)
{
	pthread_attr_t attr;
	CHECK(pthread_attr_init(&attr) == 0);
	CHECK(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0);
	CHECK(pthread_attr_setstacksize(&attr, STACK) == 0);

	int fd = tmp_file("attr");
	char buf[128];
	struct aiocb cb[3];
	for (int i = 0; i < 3; i++) {
		prep(&cb[i], fd, buf, sizeof buf, (off_t)i * 128, LIO_WRITE);
		cb[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
		cb[i].aio_sigevent.sigev_notify_function = callback;
		cb[i].aio_sigevent.sigev_notify_attributes = &attr;
		cb[i].aio_sigevent.sigev_value.sival_int = 4242;
		EXPECT_OK(aio_write(&cb[i]));
	}
	wait_flag(&count, 3);
	for (int i = 0; i < 3; i++)
		EXPECT_DONE(&cb[i], sizeof buf);
	printf("~ %s: callback stack size %ld\n", impl_name(), atomic_load(&seen_stack));
	EXPECT_EQ(atomic_load(&value_ok), 3);
	EXPECT_EQ(atomic_load(&stack_ok), 3);
	EXPECT_EQ(atomic_load(&detached_ok), 3);
	printf("SIGEV_THREAD with attributes: stack size and detached honoured\n");
	pthread_attr_destroy(&attr);
	close(fd);
	return 0;
}
