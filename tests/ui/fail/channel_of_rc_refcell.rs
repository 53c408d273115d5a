// A channel may not carry an Rc<RefCell<_>>: that would share it between tasks.
use std::cell::RefCell;
use std::rc::Rc;

fn main() {
    let (_tx, _rx) = chanos::chan::bounded::<Rc<RefCell<String>>>(1);
}
