//! Makes the included protocol files use loom's atomics (`cfg(loom_model)`).
fn main() {
    println!("cargo:rustc-cfg=loom_model");
}
