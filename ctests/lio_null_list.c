/* lio_listio with a NULL list and nent > 0: -1/EINVAL (paio). glibc 2.36
 * dereferences it and crashes: an intentional difference, printed. A NULL
 * list with nent 0 is fine everywhere. */
#include "common.h"

static long null3(void) { return lio_listio(LIO_WAIT, hidden_null(), 3, NULL); }
static long null3_nowait(void) { return lio_listio(LIO_NOWAIT, hidden_null(), 3, NULL); }

int main(void)
{
	EXPECT_OK(lio_listio(LIO_WAIT, hidden_null(), 0, NULL));
	if (is_paio()) {
		EXPECT_SYSERR(null3(), EINVAL);
		EXPECT_SYSERR(null3_nowait(), EINVAL);
		printf("lio_listio NULL list -> EINVAL\n");
	} else {
		printf("glibc: LIO_WAIT NULL list: %s\n", probe_in_child(null3));
		printf("glibc: LIO_NOWAIT NULL list: %s\n", probe_in_child(null3_nowait));
	}
	return 0;
}
