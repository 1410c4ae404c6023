//! A deterministic backend for unit tests: it only records what it is
//! given; the test decides when, and in which order, each request runs.

use std::collections::VecDeque;

use parking_lot::Mutex;

use crate::backend::{Backend, Sink};
use crate::request::slots::Job;

#[derive(Default)]
pub struct FakeBackend {
    pub queued: Mutex<VecDeque<u32>>,
}

impl FakeBackend {
    /// Run the oldest dispatched request to completion, if any.
    pub fn run_next(&self, sink: &'static dyn Sink) -> Option<u32> {
        let id = self.queued.lock().pop_front()?;
        sink.execute(id);
        Some(id)
    }

    pub fn pending(&self) -> usize {
        self.queued.lock().len()
    }
}

impl Backend for FakeBackend {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn ready(&'static self, _sink: &'static dyn Sink, _job: &Job) -> bool {
        true
    }
    fn dispatch(&'static self, _sink: &'static dyn Sink, id: u32) -> Result<(), u32> {
        self.queued.lock().push_back(id);
        Ok(())
    }
    fn dispatch_to_pool(&'static self, sink: &'static dyn Sink, id: u32) -> Result<(), u32> {
        self.dispatch(sink, id)
    }
    fn threads(&self) -> u32 {
        0
    }
}
