//! A bound on the CPU-heavy steps running at once across the languages of one pkgrun
//! process: package builds and consumer installs (compilers, `go build`, `tsc`, build
//! backends). Languages run concurrently, but on a two-core runner three compilers at once
//! only share the cores and triple the memory; registry requests and waits stay unbounded.
//! A step that has to wait for a slot says so in the log, and how long it waited.

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use pkgrun_core::log::Logger;

/// A counting semaphore of CPU slots.
#[derive(Debug)]
pub struct CpuSlots {
    limit: usize,
    busy: Mutex<usize>,
    freed: Condvar,
}

static SLOTS: OnceLock<CpuSlots> = OnceLock::new();

/// Sets the process-wide number of CPU-heavy steps that may run at once. Only the first
/// call (before any step ran) takes effect; returns whether this one did.
pub fn set_limit(limit: usize) -> bool {
    SLOTS.set(CpuSlots::new(limit)).is_ok()
}

/// The default limit: the cores this process may use.
pub fn default_limit() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The process-wide slots ([`set_limit`], else [`default_limit`]).
pub(crate) fn slots() -> &'static CpuSlots {
    SLOTS.get_or_init(|| CpuSlots::new(default_limit()))
}

impl CpuSlots {
    pub fn new(limit: usize) -> CpuSlots {
        CpuSlots {
            limit: limit.max(1),
            busy: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Blocks until a slot is free, logging the wait on `log` when there is one.
    pub fn acquire(&self, log: &Logger, step: &str) -> Slot<'_> {
        let mut busy = self.lock();
        if *busy >= self.limit {
            let started = Instant::now();
            log.info(&format!(
                "{step}: waiting for a CPU slot ({} of {} busy; --cpu-jobs sets how many)",
                *busy, self.limit
            ));
            while *busy >= self.limit {
                busy = self
                    .freed
                    .wait(busy)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            log.info(&format!(
                "{step}: got a CPU slot after {:.1}s",
                started.elapsed().as_secs_f64()
            ));
        }
        *busy += 1;
        Slot { slots: self }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        self.busy.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A held CPU slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot<'a> {
    slots: &'a CpuSlots,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.slots.lock() -= 1;
        self.slots.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    /// Runs `threads` holders of `slots` that each record how many were inside at once.
    fn most_at_once(slots: &CpuSlots, threads: usize) -> usize {
        let inside = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let start = Arc::new(Barrier::new(threads));
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let start = Arc::clone(&start);
                let (inside, most) = (&inside, &most);
                scope.spawn(move || {
                    start.wait();
                    let log = Logger::new("test", std::io::sink());
                    for _ in 0..50 {
                        let _slot = slots.acquire(&log, "step");
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        most.load(Ordering::SeqCst)
    }

    #[test]
    fn never_more_holders_than_the_limit() {
        assert_eq!(most_at_once(&CpuSlots::new(1), 4), 1);
        assert!(most_at_once(&CpuSlots::new(2), 6) <= 2);
    }

    #[test]
    fn a_zero_limit_still_lets_one_step_run() {
        assert_eq!(CpuSlots::new(0).limit(), 1);
    }

    #[test]
    fn a_wait_is_logged_and_ends_when_the_holder_drops_its_slot() {
        let slots = CpuSlots::new(1);
        let held = slots.acquire(&Logger::new("test", std::io::sink()), "first");
        let buffer = Arc::new(Mutex::new(Vec::new()));
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| {
                let log = Logger::new("test", SharedBuf(Arc::clone(&buffer)));
                drop(slots.acquire(&log, "build b"));
            });
            // The waiter logs before it blocks; release only once it has.
            while buffer.lock().unwrap().is_empty() {
                std::thread::yield_now();
            }
            drop(held);
            waiter.join().unwrap();
        });
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains("build b: waiting for a CPU slot (1 of 1 busy"),
            "{text}"
        );
        assert!(text.contains("build b: got a CPU slot after"), "{text}");
    }

    struct SharedBuf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for SharedBuf {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
