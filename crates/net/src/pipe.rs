//! Latency as a pipeline: every chunk is handed on its latency after it
//! entered, in order, whatever came before it. (Sleeping before each chunk
//! in turn would make an exchange of several chunks pay the latency several
//! times over, so a link would look slower than its fault says.)

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};

/// Bytes queued in one direction, most this many before the writer waits.
pub(crate) const CAP: usize = 1 << 20;

/// Items in flight one way, each with the instant it may be handed on,
/// never before the one ahead of it: the latency pipeline of a connection's
/// bytes ([`Pipe`]) and of a phone's messages (`crate::path`).
pub(crate) struct Due<T> {
    items: VecDeque<(Instant, T)>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<T> Default for Due<T> {
    fn default() -> Self {
        Due {
            items: VecDeque::new(),
            timer: None,
        }
    }
}

impl<T> Due<T> {
    /// Whether nothing is in flight.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many items are in flight.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Queues `item`, due at `due` but never before the item ahead.
    pub(crate) fn push(&mut self, item: T, due: Instant) {
        let due = self.items.back().map_or(due, |(last, _)| due.max(*last));
        self.items.push_back((due, item));
    }

    /// Drops everything in flight.
    pub(crate) fn clear(&mut self) {
        self.items.clear();
    }

    /// The front item, due or not.
    pub(crate) fn front(&self) -> Option<&T> {
        self.items.front().map(|(_, item)| item)
    }

    /// The front item, due or not, to change.
    fn front_mut(&mut self) -> Option<&mut T> {
        self.items.front_mut().map(|(_, item)| item)
    }

    /// Takes the front item off, due or not.
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        self.items.pop_front().map(|(_, item)| item)
    }

    /// The front item once it is due (Pending until then, with a wake-up
    /// set), or `Ready(None)` when nothing is in flight.
    pub(crate) fn poll_front(&mut self, cx: &mut Context<'_>) -> Poll<Option<&mut T>> {
        let Some(&(due, _)) = self.items.front() else {
            return Poll::Ready(None);
        };
        if due > Instant::now() {
            let timer = self
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
            if timer.deadline() != due {
                timer.as_mut().reset(due);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        Poll::Ready(self.items.front_mut().map(|(_, item)| item))
    }
}

/// A chunk on its way, and how much of it was handed on.
struct Chunk {
    bytes: Vec<u8>,
    pos: usize,
}

/// Bytes in flight one way, chunk by chunk.
#[derive(Default)]
pub(crate) struct Pipe {
    chunks: Due<Chunk>,
    queued: usize,
}

impl Pipe {
    /// Whether nothing is in flight.
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Whether the pipe holds as much as it takes.
    pub(crate) fn is_full(&self) -> bool {
        self.queued >= CAP
    }

    /// Queues `bytes`, due `delay` from now but never before the chunk ahead.
    pub(crate) fn push(&mut self, bytes: Vec<u8>, delay: std::time::Duration) {
        self.queued += bytes.len();
        self.chunks
            .push(Chunk { bytes, pos: 0 }, Instant::now() + delay);
    }

    /// The bytes at the front once they are due (Pending until then, with
    /// a wake-up set), or `Ready(None)` when nothing is in flight.
    pub(crate) fn poll_front(&mut self, cx: &mut Context<'_>) -> Poll<Option<&[u8]>> {
        self.chunks
            .poll_front(cx)
            .map(|front| front.map(|c| &c.bytes[c.pos..]))
    }

    /// Marks `n` bytes of the front chunk as handed on.
    pub(crate) fn consume(&mut self, n: usize) {
        let Some(front) = self.chunks.front_mut() else {
            return;
        };
        front.pos += n;
        let done = front.pos >= front.bytes.len();
        self.queued -= n;
        if done {
            self.chunks.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pipe;
    use std::task::{Context, Poll};
    use std::time::Duration;

    fn front(p: &mut Pipe) -> Poll<Option<Vec<u8>>> {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        p.poll_front(&mut cx).map(|o| o.map(<[u8]>::to_vec))
    }

    #[tokio::test(start_paused = true)]
    async fn chunks_sent_apart_each_pay_the_latency_once() {
        let mut p = Pipe::default();
        p.push(b"ab".to_vec(), Duration::from_secs(2));
        tokio::time::advance(Duration::from_secs(1)).await;
        p.push(b"cd".to_vec(), Duration::from_secs(2));
        assert!(front(&mut p).is_pending());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(front(&mut p), Poll::Ready(Some(b"ab".to_vec())));
        p.consume(2);
        assert!(
            front(&mut p).is_pending(),
            "the second is due 1 s later, not 2"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(front(&mut p), Poll::Ready(Some(b"cd".to_vec())));
        p.consume(1);
        assert_eq!(front(&mut p), Poll::Ready(Some(b"d".to_vec())));
        p.consume(1);
        assert_eq!(front(&mut p), Poll::Ready(None));
    }

    #[tokio::test(start_paused = true)]
    async fn a_chunk_never_overtakes_the_one_ahead() {
        let mut p = Pipe::default();
        p.push(b"slow".to_vec(), Duration::from_secs(5));
        p.push(b"fast".to_vec(), Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(front(&mut p).is_pending());
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(front(&mut p), Poll::Ready(Some(b"slow".to_vec())));
    }
}
