//! What a request is, shared by every layer: the C `struct aiocb` the
//! program owns ([`aiocb`]), paio's slot for each request in flight
//! ([`slots`], allocated in [`chunks`]), what is known about each
//! descriptor and the file behind it ([`fdstate`]), and the transfer a
//! request describes, done with system calls ([`io`]).

pub mod aiocb;
pub mod chunks;
pub mod fdstate;
pub mod io;
pub mod slots;
