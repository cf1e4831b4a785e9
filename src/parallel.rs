//! Local work split over threads: the `threads` option of FFT plans runs
//! the engine's local row copies and the scaling on scoped threads, each
//! on its own contiguous share (FFTW's own threads do the transforms).

use crate::error::Result;
use std::ops::Range;

/// The smallest share (bytes) worth a thread of its own.
pub(crate) const MIN_BYTES_PER_THREAD: usize = 1 << 20;

/// How many parts to split `bytes` of work into with at most `threads` threads.
pub(crate) fn parts(threads: usize, bytes: usize) -> usize {
    threads.min(bytes / MIN_BYTES_PER_THREAD).max(1)
}

/// Runs `work` on each of `parts` contiguous shares of `0..n`, the first on
/// the calling thread and the others on scoped threads; returns the first
/// error. With one part it is a plain call.
pub(crate) fn for_each_part<F>(n: usize, parts: usize, work: F) -> Result<()>
where
    F: Fn(Range<usize>) -> Result<()> + Sync,
{
    let share = |i: usize| n * i / parts..n * (i + 1) / parts;
    if parts <= 1 {
        return work(0..n);
    }
    let work = &work;
    std::thread::scope(|scope| {
        let others: Vec<_> = (1..parts).map(|i| scope.spawn(move || work(share(i)))).collect();
        let first = work(share(0));
        others.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).fold(first, Result::and)
    })
}

/// Shares a value holding raw pointers with the threads of one
/// [`for_each_part`]; whoever wraps it guarantees that the shares touch
/// disjoint memory for writing.
pub(crate) struct Shared<T>(pub T);

// SAFETY: the wrapper's users write disjoint memory from each thread (see above).
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// The shared value (a method, so closures capture the wrapper, not its field).
    pub(crate) fn get(&self) -> &T {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_every_item_once() {
        for (n, parts) in [(0, 3), (1, 4), (10, 3), (1000, 7)] {
            let seen: Vec<std::sync::atomic::AtomicU32> = (0..n).map(|_| Default::default()).collect();
            for_each_part(n, parts, |r| {
                r.for_each(|i| {
                    seen[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                });
                Ok(())
            })
            .unwrap();
            assert!(seen.iter().all(|s| s.load(std::sync::atomic::Ordering::Relaxed) == 1));
        }
        assert_eq!(parts(4, 3 << 20), 3);
        assert_eq!(parts(4, 100), 1);
        let e = for_each_part(10, 2, |r| if r.start > 0 { Err(crate::error::Error::invalid("second share")) } else { Ok(()) });
        assert!(e.is_err());
    }
}
