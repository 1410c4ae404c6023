//! `pthread_cancel`, handed on to the C library's, then waking paio's
//! sleepers: `aio_suspend` is a cancellation point (POSIX; glibc acts on a
//! cancel there), but a thread paio put to sleep waits in a plain `futex`
//! or `ppoll`, which the C library's deferred cancellation never
//! interrupts (it signals only threads inside its own cancellable
//! wrappers). Woken, the thread leaves the wait and acts on the cancel
//! where paio holds nothing ([`crate::submit::suspend`]).

use once_cell::sync::OnceCell;

use crate::engine;

type Cancel = unsafe extern "C" fn(libc::pthread_t) -> libc::c_int;

/// The next `pthread_cancel` in the lookup order (the C library's).
static NEXT: OnceCell<Option<Cancel>> = OnceCell::new();

fn next() -> Option<Cancel> {
    *NEXT.get_or_init(|| {
        // SAFETY: a NUL-terminated name; RTLD_NEXT skips this object.
        let p = unsafe { libc::dlsym(libc::RTLD_NEXT, c"pthread_cancel".as_ptr()) };
        // SAFETY: the symbol is the C library's pthread_cancel, of this type.
        (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut libc::c_void, Cancel>(p) })
    })
}

/// [`pthread_cancel`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/pthread_cancel.html),
/// exactly the C library's, then a wake-up of every thread asleep in
/// `aio_suspend` (each looks whether the cancel is its own).
///
/// # Safety
/// As the C library's: `th` names a thread of this process that has not
/// been joined or detached-and-exited.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn pthread_cancel(th: libc::pthread_t) -> libc::c_int {
    let Some(cancel) = next() else {
        return libc::ENOSYS;
    };
    // SAFETY: forwarded under the caller's contract.
    let r = unsafe { cancel(th) };
    if r == 0 {
        if let Some(e) = engine::try_get() {
            e.wake_for_cancel();
        }
    }
    r
}
