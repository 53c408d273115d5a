//! vending: Hoare's vending machine, in CSP and in chanos.
//!
//! In *Communicating Sequential Processes* the simple vending machine is
//!
//! ```text
//! VMS = coin → choc → VMS
//! ```
//!
//! It engages in `coin`, then in `choc`, forever. A customer who may pay
//! either way is an *external choice*:
//!
//! ```text
//! CUST = (coin → choc → CUST) □ (card → choc → CUST)
//! ```
//!
//! An event happens only when every process whose alphabet holds it is
//! ready for it. In `VMS ∥ CUST` the machine is never ready for `card`, so
//! the card path can never be taken: it stops, and the choice always
//! resolves to `coin`. Here each event is a rendezvous channel (`bounded(0)`)
//! and the customer's choice is a `select!` over two sends: a send arm
//! completes only when the machine receives, so `card` is never chosen.
//!
//! The app shows three things:
//! 1. `VMS ∥ CUST` for 10 rounds: coin every time, card never.
//! 2. `VMC ∥ CUST`, where the machine also accepts a card
//!    (`VMC = (coin → choc → VMC) □ (card → choc → VMC)`): both sides choose,
//!    and over 1000 rounds both payments happen (chosen at random, as Go's
//!    `select` does).
//! 3. `vending card-only`: a customer who can only pay by card, facing VMS.
//!    In CSP that is `STOP`, a deadlock; chanos detects it, names the
//!    customer stuck on `card` and the machine stuck on `coin`, and exits 2.
#![cfg_attr(target_os = "none", no_std, no_main)]

use chanos::chan::{self, Receiver, Sender};
use chanos::{eprintln, println, select, spawn_named};

/// The events of the machine's alphabet, each a rendezvous channel.
struct Machine {
    coin: Receiver<()>,
    card: Receiver<()>,
    choc: Sender<()>,
}

struct Customer {
    coin: Sender<()>,
    card: Sender<()>,
    choc: Receiver<()>,
}

fn alphabet() -> (Machine, Customer) {
    let (coin_tx, coin_rx) = chan::bounded_named(0, "coin");
    let (card_tx, card_rx) = chan::bounded_named(0, "card");
    let (choc_tx, choc_rx) = chan::bounded_named(0, "choc");
    (
        Machine {
            coin: coin_rx,
            card: card_rx,
            choc: choc_tx,
        },
        Customer {
            coin: coin_tx,
            card: card_tx,
            choc: choc_rx,
        },
    )
}

/// VMS = coin → choc → VMS. It holds the `card` channel but never offers it.
async fn vms(machine: Machine) {
    while machine.coin.recv().await.is_some() {
        if machine.choc.send(()).await.is_err() {
            break;
        }
    }
    drop(machine.card);
}

/// VMC = (coin → choc → VMC) □ (card → choc → VMC).
async fn vmc(machine: Machine) {
    loop {
        let paid = select! {
            coin = machine.coin.recv() => coin.is_some(),
            card = machine.card.recv() => card.is_some(),
        };
        if !paid || machine.choc.send(()).await.is_err() {
            break;
        }
    }
}

/// CUST, for `rounds` rounds: returns how often it paid by coin and by card.
async fn customer(me: Customer, rounds: u32) -> (u32, u32) {
    let (mut coins, mut cards) = (0, 0);
    for _ in 0..rounds {
        select! {
            _ = me.coin.send(()) => coins += 1,
            _ = me.card.send(()) => cards += 1,
        }
        me.choc.recv().await.expect("the machine gives a chocolate");
    }
    (coins, cards)
}

#[chanos::main]
async fn main() {
    let mode = chanos::env::args().into_iter().next();
    match mode.as_deref() {
        None => {
            let (machine, me) = alphabet();
            spawn_named("VMS", vms(machine));
            let (coins, cards) = spawn_named("customer", customer(me, 10)).await;
            println!("VMS: coin {coins} times, card {cards} times");

            let (machine, me) = alphabet();
            spawn_named("VMC", vmc(machine));
            let (coins, cards) = spawn_named("customer", customer(me, 1000)).await;
            println!("VMC: coin {coins} times, card {cards} times");
        }
        Some("card-only") => {
            let (machine, me) = alphabet();
            spawn_named("VMS", vms(machine));
            spawn_named("customer", async move {
                me.card.send(()).await.ok();
                me.choc.recv().await;
            })
            .await;
            println!("unreachable: the machine took a card");
        }
        Some(_) => {
            eprintln!("usage: vending [card-only]");
            chanos::env::exit(64);
        }
    }
}
