/* Symbol binding: all 16 AIO names plus aio_init resolve into libpaio when
 * paio is preloaded or linked, both through dlsym(RTLD_DEFAULT, name) and
 * through this binary's own references (the function addresses it was linked
 * with: in the plain binary these are versioned, aio_read@GLIBC_2.34, and the
 * preloaded unversioned definitions must still win). Under glibc the object
 * each resolves to is printed (an intentional difference: the output names
 * the library).
 *
 * Not checked: dlvsym(RTLD_DEFAULT, name, "GLIBC_2.34"). dlvsym asks for the
 * version as "hidden", which an unversioned definition never satisfies, so it
 * finds glibc even when every real reference binds to paio. */
#include "common.h"

static const char *where(void *sym)
{
	Dl_info info;
	if (sym == NULL)
		return "(unresolved)";
	if (dladdr(sym, &info) == 0 || info.dli_fname == NULL)
		return "(unknown object)";
	const char *slash = strrchr(info.dli_fname, '/');
	return slash ? slash + 1 : info.dli_fname;
}

#define FN(f) { #f, (void *)f }

int main(void)
{
	const struct {
		const char *name;
		void *linked;
	} fns[] = {
		FN(aio_read),    FN(aio_read64),    FN(aio_write),   FN(aio_write64),
		FN(aio_error),   FN(aio_error64),   FN(aio_return),  FN(aio_return64),
		FN(aio_suspend), FN(aio_suspend64), FN(aio_cancel),  FN(aio_cancel64),
		FN(aio_fsync),   FN(aio_fsync64),   FN(lio_listio),  FN(lio_listio64),
		FN(aio_init),
	};
	int n = (int)(sizeof fns / sizeof fns[0]), bad = 0;
	for (int i = 0; i < n; i++) {
		const char *by_name = where(dlsym(RTLD_DEFAULT, fns[i].name));
		const char *by_ref = where(fns[i].linked);
		if (is_paio()) {
			if (strstr(by_name, "libpaio") == NULL) {
				fprintf(stderr, "dlsym(%s) resolves to %s\n", fns[i].name, by_name);
				bad++;
			}
			if (strstr(by_ref, "libpaio") == NULL) {
				fprintf(stderr, "the binary's %s binds to %s\n", fns[i].name, by_ref);
				bad++;
			}
		} else {
			printf("glibc: %s -> %s (dlsym %s)\n", fns[i].name, by_ref, by_name);
		}
	}
	if (bad)
		FAIL("%d lookups did not resolve into libpaio", bad);
	if (is_paio())
		printf("all %d names bind to libpaio\n", n);
	return 0;
}
