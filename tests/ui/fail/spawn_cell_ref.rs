// A task may not capture a reference to a Cell.
use std::cell::Cell;

fn main() {
    let _ = chanos::Runtime::new().block_on(async {
        let flag: &'static Cell<bool> = Box::leak(Box::new(Cell::new(false)));
        chanos::spawn(async move {
            flag.set(true);
        });
    });
}
