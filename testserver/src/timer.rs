//! Precise delays for the emulated latency. tokio's timer works in whole
//! milliseconds and fires late by up to one tick, which turns a 2 ms latency into
//! about 2.5 ms on average and would make every client look slower than it is.
//! This timer thread sleeps with the OS's own precision (tens of microseconds)
//! and wakes each waiting request through a oneshot channel, without busy-waiting.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

struct Entry {
    deadline: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

struct Timer {
    queue: Mutex<Queue>,
    changed: Condvar,
}

fn timer() -> &'static Arc<Timer> {
    static TIMER: OnceLock<Arc<Timer>> = OnceLock::new();
    TIMER.get_or_init(|| {
        let t = Arc::new(Timer {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
        });
        let worker = Arc::clone(&t);
        std::thread::Builder::new()
            .name("latency-timer".into())
            .spawn(move || run(&worker))
            .ok();
        t
    })
}

fn run(t: &Timer) {
    let mut q = t
        .queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let now = Instant::now();
        while q.heap.peek().is_some_and(|Reverse(e)| e.deadline <= now) {
            if let Some(Reverse(e)) = q.heap.pop() {
                let _ = e.wake.send(());
            }
        }
        q = match q.heap.peek().map(|Reverse(e)| e.deadline) {
            Some(deadline) => t
                .changed
                .wait_timeout(q, deadline.saturating_duration_since(now))
                .map_or_else(|e| e.into_inner().0, |(g, _)| g),
            None => t
                .changed
                .wait(q)
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        };
    }
}

/// Waits `delay` with sub-millisecond precision.
pub async fn sleep(delay: Duration) {
    if delay.is_zero() {
        return;
    }
    let (tx, rx) = oneshot::channel();
    let t = timer();
    {
        let mut q = t
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        q.seq += 1;
        let seq = q.seq;
        q.heap.push(Reverse(Entry {
            deadline: Instant::now() + delay,
            seq,
            wake: tx,
        }));
    }
    t.changed.notify_one();
    if rx.await.is_err() {
        // The timer thread could not start: fall back to tokio's timer.
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeps_about_as_long_as_asked() {
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50u64 {
            tasks.spawn(sleep(Duration::from_micros(2000 + i * 10)));
        }
        while tasks.join_next().await.is_some() {}
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_micros(2490), "{elapsed:?}");
    }
}
