// A task may not capture a RefCell shared with another task.
use std::cell::RefCell;
use std::rc::Rc;

fn main() {
    let _ = chanos::Runtime::new().block_on(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let theirs = log.clone();
        chanos::spawn(async move {
            theirs.borrow_mut().push(1);
        });
    });
}
