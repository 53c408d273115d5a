// A task may not capture a reference to a shared atomic.
use std::sync::atomic::{AtomicUsize, Ordering};

static HITS: AtomicUsize = AtomicUsize::new(0);

fn main() {
    let _ = chanos::Runtime::new().block_on(async {
        let hits: &'static AtomicUsize = &HITS;
        chanos::spawn(async move {
            hits.fetch_add(1, Ordering::Relaxed);
        });
    });
}
