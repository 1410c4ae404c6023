//! Completion notification: `SIGEV_SIGNAL` and `SIGEV_THREAD_ID` are queued
//! by the completing thread (`si_code = SI_ASYNCIO`), or, for a request that
//! completed inside the submitting call, by the `paio-signal` thread once the
//! program has stopped submitting (`late.rs`); `SIGEV_THREAD` callbacks run
//! on a small bounded pool of notifier threads, or, when the caller gave
//! `sigev_notify_attributes`, on a thread created with those attributes.

use crate::request::aiocb::Notify;
use crate::sys;

/// A `SIGEV_THREAD` callback waiting for a notifier thread.
#[derive(Clone, Copy, Debug)]
pub struct Callback {
    pub function: usize,
    pub value: usize,
}

impl Callback {
    pub fn call(self) {
        // SAFETY: `function` is the non-null `sigev_notify_function` the C
        // caller supplied (checked at submission), with glibc's signature
        // `void (*)(union sigval)`; a sigval is passed as one pointer-sized word.
        let f: extern "C" fn(usize) = unsafe { std::mem::transmute(self.function) };
        f(self.value)
    }
}

/// How a notification is carried out, decided without side effects.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    Nothing,
    Signal {
        signo: i32,
        value: usize,
        tid: Option<i32>,
    },
    Pool(usize, usize),
    OwnThread {
        function: usize,
        value: usize,
        attributes: usize,
    },
}

pub fn plan(n: Notify) -> Delivery {
    match n {
        Notify::None => Delivery::Nothing,
        Notify::Signal { signo, value } => Delivery::Signal {
            signo,
            value,
            tid: None,
        },
        Notify::ThreadId { signo, value, tid } => Delivery::Signal {
            signo,
            value,
            tid: Some(tid),
        },
        Notify::Thread {
            function,
            value,
            attributes: 0,
        } => Delivery::Pool(function, value),
        Notify::Thread {
            function,
            value,
            attributes,
        } => Delivery::OwnThread {
            function,
            value,
            attributes,
        },
    }
}

extern "C" fn own_thread_main(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `arg` is the Box<Callback> leaked by `spawn_with_attributes`.
    let cb = unsafe { Box::from_raw(arg as *mut Callback) };
    sys::unblock_all_signals();
    cb.call();
    std::ptr::null_mut()
}

extern "C" {
    // Not wrapped by the `libc` crate; glibc has had it forever.
    fn pthread_attr_getdetachstate(
        attr: *const libc::pthread_attr_t,
        state: *mut libc::c_int,
    ) -> libc::c_int;
}

/// Run `cb` on a new thread made with the caller's `pthread_attr_t`.
/// `Err(cb)` when the thread cannot be created (the caller falls back).
pub fn spawn_with_attributes(cb: Callback, attributes: usize) -> Result<(), Callback> {
    let arg = Box::into_raw(Box::new(cb));
    let old = sys::block_all_signals();
    let mut tid: libc::pthread_t = 0;
    // SAFETY: `attributes` is the caller's live pthread_attr_t (POSIX requires
    // it to stay valid until notification); `arg` is a leaked box the new
    // thread takes over.
    let r = unsafe {
        libc::pthread_create(
            &mut tid,
            attributes as *const libc::pthread_attr_t,
            own_thread_main,
            arg as *mut _,
        )
    };
    sys::restore_signals(&old);
    if r != 0 {
        // SAFETY: the thread was not created, so the box is still ours.
        return Err(*unsafe { Box::from_raw(arg) });
    }
    // Nobody can join it (the program never learns its id): if the attributes
    // made it joinable, detach it so it does not leak.
    let mut state = 0;
    // SAFETY: reading the detach state of the caller's attributes.
    if unsafe { pthread_attr_getdetachstate(attributes as *const _, &mut state) } == 0
        && state == libc::PTHREAD_CREATE_JOINABLE
    {
        // SAFETY: `tid` is a live joinable thread we created.
        unsafe { libc::pthread_detach(tid) };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        assert_eq!(plan(Notify::None), Delivery::Nothing);
        assert_eq!(
            plan(Notify::Signal {
                signo: 10,
                value: 3
            }),
            Delivery::Signal {
                signo: 10,
                value: 3,
                tid: None
            }
        );
        assert_eq!(
            plan(Notify::ThreadId {
                signo: 10,
                value: 3,
                tid: 99
            }),
            Delivery::Signal {
                signo: 10,
                value: 3,
                tid: Some(99)
            }
        );
        assert_eq!(
            plan(Notify::Thread {
                function: 1,
                value: 2,
                attributes: 0
            }),
            Delivery::Pool(1, 2)
        );
        assert_eq!(
            plan(Notify::Thread {
                function: 1,
                value: 2,
                attributes: 8
            }),
            Delivery::OwnThread {
                function: 1,
                value: 2,
                attributes: 8
            }
        );
    }
}
