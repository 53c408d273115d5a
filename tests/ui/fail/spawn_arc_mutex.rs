// A task may not capture a lock shared with another task.
use std::sync::{Arc, Mutex};

fn main() {
    let _ = chanos::Runtime::new().block_on(async {
        let counter = Arc::new(Mutex::new(0));
        let theirs = counter.clone();
        chanos::spawn(async move {
            *theirs.lock().unwrap() += 1;
        });
        *counter.lock().unwrap() += 1;
    });
}
