//! hello: a spawned task sends a greeting over a channel; main prints it.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::string::String;
use chanos::{chan, println, spawn_named};

#[chanos::main]
async fn main() {
    let (tx, rx) = chan::bounded_named::<String>(0, "greetings");
    spawn_named("greeter", async move {
        tx.send(String::from(
            "Hello from chanos: a task said this over a channel.",
        ))
        .await
        .expect("main is listening");
    });
    match rx.recv().await {
        Some(greeting) => println!("{greeting}"),
        None => println!("the greeter left without a word"),
    }
}
