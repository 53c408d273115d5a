// A channel may not carry a lock: that would share it between tasks.
use std::sync::{Arc, Mutex};

fn main() {
    let (_tx, _rx) = chanos::chan::bounded::<Arc<Mutex<u32>>>(1);
}
