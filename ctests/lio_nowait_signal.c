/* lio_listio(LIO_NOWAIT) with a list sigevent (SIGEV_SIGNAL, SIGRTMIN): the
 * list signal comes exactly once, after every request in the list is done
 * (checked from the handler with aio_error, which is async-signal-safe), and
 * each aiocb's own sigevent (SIGRTMIN+1, its index) fires once as well. */
#include "common.h"

#define N 24

static struct aiocb cbs[N];
static atomic_int list_sigs, list_early, list_value_bad, list_code_bad;
static atomic_int item_sigs;
static atomic_int item_seen[N];

static void on_list(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	for (int i = 0; i < N; i++)
		if (aio_error(&cbs[i]) == EINPROGRESS)
			atomic_fetch_add(&list_early, 1);
	if (si->si_value.sival_int != 999)
		atomic_store(&list_value_bad, 1);
	if (si->si_code != SI_ASYNCIO)
		atomic_store(&list_code_bad, 1);
	atomic_fetch_add(&list_sigs, 1);
}

static void on_item(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	int i = si->si_value.sival_int;
	if (i >= 0 && i < N)
		atomic_fetch_add(&item_seen[i], 1);
	atomic_fetch_add(&item_sigs, 1);
}

int main(void)
{
	install_siginfo_handler(SIGRTMIN, on_list);
	install_siginfo_handler(SIGRTMIN + 1, on_item);
	int fd = tmp_file("lionowait");
	static char data[N * 4096], bufs[N][4096];
	fill_pattern(data, sizeof data, 18, 0);
	must_pwrite(fd, data, sizeof data, 0);
	struct aiocb *list[N];
	for (int i = 0; i < N; i++) {
		if (i % 3 == 0)
			prep(&cbs[i], fd, data + (size_t)i * 4096, 4096,
			     (off_t)(N + i) * 4096, LIO_WRITE);
		else
			prep(&cbs[i], fd, bufs[i], 4096, (off_t)i * 4096, LIO_READ);
		cbs[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
		cbs[i].aio_sigevent.sigev_signo = SIGRTMIN + 1;
		cbs[i].aio_sigevent.sigev_value.sival_int = i;
		list[i] = &cbs[i];
	}
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN;
	sev.sigev_value.sival_int = 999;
	EXPECT_OK(lio_listio(LIO_NOWAIT, list, N, &sev));
	wait_flag(&list_sigs, 1);
	wait_flag(&item_sigs, N);
	for (int i = 0; i < N; i++) {
		EXPECT_DONE(&cbs[i], 4096);
		if (i % 3 != 0)
			EXPECT_PATTERN(bufs[i], 4096, 18, (long long)i * 4096);
	}
	sleep_ms(50);
	EXPECT_EQ(atomic_load(&list_sigs), 1);
	EXPECT_EQ(atomic_load(&list_early), 0);
	EXPECT_EQ(atomic_load(&list_value_bad), 0);
	EXPECT_EQ(atomic_load(&list_code_bad), 0);
	EXPECT_EQ(atomic_load(&item_sigs), N);
	for (int i = 0; i < N; i++)
		EXPECT_EQ(atomic_load(&item_seen[i]), 1);
	printf("LIO_NOWAIT: list signal once after all %d, each aiocb signalled once\n", N);

	/* LIO_NOWAIT with a NULL sigevent: no list notification, all complete. */
	for (int i = 0; i < N; i++) {
		prep(&cbs[i], fd, bufs[i], 4096, (off_t)i * 4096, LIO_READ);
	}
	EXPECT_OK(lio_listio(LIO_NOWAIT, list, N, NULL));
	for (int i = 0; i < N; i++)
		EXPECT_DONE(&cbs[i], 4096);
	sleep_ms(20);
	EXPECT_EQ(atomic_load(&list_sigs), 1);
	close(fd);
	return 0;
}
