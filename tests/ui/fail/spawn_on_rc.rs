// A task spawned onto another core moves to that core's thread: an `Rc`
// (isolated, but not `Send`) cannot go with it.
use std::rc::Rc;

fn main() {
    let _ = chanos::Runtime::with_cores(2).block_on(async {
        let shared = Rc::new(5u32);
        chanos::spawn_on(1, async move { *shared + 1 }).await
    });
}
