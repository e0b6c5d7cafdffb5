//! One request of an observation: under the concurrency bound, on a task of its
//! own, counted on the progress bar; and the placing of answers that come back
//! in any order.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::super::client::{Client, ClientError};

pub(super) struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    pub(super) fn new(enabled: bool) -> Self {
        use std::io::IsTerminal as _;
        if !enabled || !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} reading the server {bar:30} {pos}/{len} requests",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Self(Some(bar))
    }
    pub(super) fn add(&self, n: usize) {
        if let Some(b) = &self.0 {
            b.inc_length(n as u64);
        }
    }
    pub(super) fn tick(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }
    pub(super) fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// One GET under the concurrency bound, counted on the progress bar. The request
/// and the decoding of its answer run as a task of their own on the runtime's
/// workers: polled inside the one future that joins them all, ten thousand
/// answers were decoded one after another on a single thread.
pub(super) async fn fetch<T: DeserializeOwned + Send + 'static>(
    client: &Client,
    permits: &Semaphore,
    bar: &Progress,
    path: String,
) -> Result<T, ClientError> {
    let _permit = permits.acquire().await.ok();
    let task = {
        let client = client.clone();
        let path = path.clone();
        Spawned(tokio::spawn(async move { client.get::<T>(&path).await }))
    };
    let result = match task.await {
        Ok(answer) => answer,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only a runtime that is shutting down cancels a task.
        Err(_) => Err(ClientError::Transport {
            method: reqwest::Method::GET,
            path,
            message: "the request was cancelled: guacsync is stopping".to_owned(),
            outcome_unknown: false,
        }),
    };
    bar.tick();
    result
}

/// A spawned request, aborted when whoever awaits it is dropped (an interrupted
/// observation sends nothing more).
struct Spawned<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for Spawned<T> {
    type Output = Result<T, tokio::task::JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

/// Hands each fetched answer to the item at its position in `items` (answers
/// come in any order; each position at most once).
pub(super) fn fill<'a, T: 'a, A>(
    items: impl Iterator<Item = &'a mut T>,
    mut answers: Vec<(usize, A)>,
    mut put: impl FnMut(&mut T, A),
) {
    answers.sort_unstable_by_key(|(i, _)| *i);
    let mut answers = answers.into_iter().peekable();
    for (i, item) in items.enumerate() {
        if let Some((_, a)) = answers.next_if(|(at, _)| *at == i) {
            put(item, a);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::Spawned;

    #[tokio::test]
    async fn a_dropped_request_is_aborted_and_an_awaited_one_finishes() {
        let finished = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&finished);
        let dropped = Spawned(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, Ordering::SeqCst);
        }));
        drop(dropped);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!finished.load(Ordering::SeqCst), "the dropped task ran on");
        let awaited = Spawned(tokio::spawn(async { 7 }));
        assert_eq!(awaited.await.expect("not cancelled"), 7);
    }
}
