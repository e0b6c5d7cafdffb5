//! Work the diff does on a thread of its own, beside the rest: parts that need
//! only their inputs (the fingerprint, the READ lists) take about half of a large
//! plan's diff, and the diff runs after the last answer, when the cores are free.
//! Still pure: the thread does no I/O; a thread that cannot be had means the work
//! is done where it is joined instead.

use std::panic;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{Builder, Scope, ScopedJoinHandle};

/// A result being computed on a scoped thread, or the work to compute it here.
pub(super) struct Beside<'s, T, F> {
    thread: Option<ScopedJoinHandle<'s, Option<T>>>,
    /// The work, until the thread (or `join`, when there is none) takes it.
    work: Arc<Mutex<Option<F>>>,
}

/// Starts `work` on a thread of `scope` (named `name`).
pub(super) fn beside<'s, T, F>(scope: &'s Scope<'s, '_>, name: &str, work: F) -> Beside<'s, T, F>
where
    T: Send + 's,
    F: FnOnce() -> T + Send + 's,
{
    let work = Arc::new(Mutex::new(Some(work)));
    let theirs = Arc::clone(&work);
    let thread = Builder::new()
        .name(name.to_owned())
        .spawn_scoped(scope, move || take(&theirs).map(|f| f()))
        .ok();
    Beside { thread, work }
}

fn take<F>(work: &Mutex<Option<F>>) -> Option<F> {
    work.lock().unwrap_or_else(PoisonError::into_inner).take()
}

impl<T, F: FnOnce() -> T> Beside<'_, T, F> {
    /// The result; a panic on the thread is resumed here.
    pub(super) fn join(self) -> T {
        let done = match self.thread {
            Some(t) => t.join().unwrap_or_else(|p| panic::resume_unwind(p)),
            None => None,
        };
        match done {
            Some(result) => result,
            // No thread was started, so the work is still here.
            None => match take(&self.work) {
                Some(f) => f(),
                None => unreachable!("a started thread always takes the work and returns it"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::beside;

    #[test]
    fn the_result_comes_back_from_the_thread() {
        let input: Vec<u64> = (1..=1000).collect();
        let sum = std::thread::scope(|s| {
            let on_thread = beside(s, "sum", || {
                (
                    input.iter().sum::<u64>(),
                    std::thread::current().name().map(str::to_owned),
                )
            });
            on_thread.join()
        });
        assert_eq!(sum, (500_500, Some("sum".to_owned())));
    }

    #[test]
    fn a_panic_on_the_thread_reaches_the_joiner() {
        let caught = std::panic::catch_unwind(|| {
            std::thread::scope(|s| {
                let t = beside(s, "boom", || -> u8 { panic!("boom") });
                t.join()
            })
        });
        let payload = caught.expect_err("the panic is resumed");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    }
}
