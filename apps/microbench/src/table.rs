//! Barrelfish's second question: a read-mostly table, read from every core,
//! written now and then. One task per core does its share of N operations:
//! a lookup of entry `(i * 7) % TABLE`, or, on core 0 at every
//! `WRITE_EVERY`th operation, a write of that entry. Two ways to keep it:
//! - `table-owner`: one task on core 0 owns the table; lookups and writes
//!   are requests over one channel (a lookup waits for its answer);
//! - `table-replicas`: every core keeps its own copy; core 0 writes its copy
//!   and sends the write to every other copy over that core's channel,
//!   which applies the writes it has received every `APPLY_EVERY` lookups
//!   (a copy may lag by that many lookups, as Barrelfish's replicas do).
//!
//! scripts/peers' `peer-threads table-rwlock|table-mutex` does the same
//! operations on one shared table behind a lock.

use alloc::vec::Vec;
use chanos::chan::{self, oneshot, Receiver, Sender};
use chanos::println;
use chanos::time::Instant;

const TABLE: usize = 256;
const WRITE_EVERY: u64 = 1000;
const APPLY_EVERY: u64 = 64;

/// Whether operation `i` of core `core` is a write (else a lookup).
fn is_write(core: usize, i: u64) -> bool {
    core == 0 && i.is_multiple_of(WRITE_EVERY)
}

fn key(i: u64) -> usize {
    (i as usize * 7) % TABLE
}

/// A write to a copy: the key and its new value.
type Write = (usize, u64);

enum Request {
    Lookup(usize, oneshot::Sender<u64>),
    Write(usize, u64),
}

pub(crate) async fn owner(n: u64) {
    let cores = chanos::cores();
    let per_core = n / cores as u64;
    let (requests, incoming) = chan::bounded::<Request>(1024);
    let owner = chanos::spawn(async move {
        let mut table = alloc::vec![0u64; TABLE];
        while let Some(request) = incoming.recv().await {
            match request {
                Request::Lookup(key, reply) => {
                    let _ = reply.send(table[key]);
                }
                Request::Write(key, value) => table[key] = value,
            }
        }
    });
    let start = Instant::now();
    let readers: Vec<_> = (0..cores)
        .map(|core| {
            let requests = requests.clone();
            chanos::spawn_on(core, async move {
                let mut sum = 0u64;
                for i in 0..per_core {
                    if is_write(core, i) {
                        let _ = requests.send(Request::Write(key(i), i)).await;
                    } else {
                        let (reply, answer) = oneshot::channel();
                        let _ = requests.send(Request::Lookup(key(i), reply)).await;
                        sum = sum.wrapping_add(answer.await.expect("the owner answers"));
                    }
                }
                sum
            })
        })
        .collect();
    drop(requests);
    for reader in readers {
        core::hint::black_box(reader.await);
    }
    owner.await;
    let ns = crate::per_op(start, per_core * cores as u64);
    println!("bench table_via_task_{cores} {ns:.1} ns");
}

pub(crate) async fn replicas(n: u64) {
    let cores = chanos::cores();
    let per_core = n / cores as u64;
    let (to_copies, copies_in): (Vec<Sender<Write>>, Vec<Receiver<Write>>) =
        (1..cores).map(|_| chan::bounded(1024)).unzip();
    let start = Instant::now();
    let writer = chanos::spawn_on(0, async move {
        let mut table = alloc::vec![0u64; TABLE];
        let mut sum = 0u64;
        for i in 0..per_core {
            if is_write(0, i) {
                table[key(i)] = i;
                for copy in &to_copies {
                    copy.send((key(i), i)).await.expect("the copy lives");
                }
            } else {
                sum = sum.wrapping_add(table[key(i)]);
            }
        }
        (table, sum)
    });
    let copies: Vec<_> = (1..)
        .zip(copies_in)
        .map(|(core, writes)| {
            chanos::spawn_on(core, async move {
                let mut table = alloc::vec![0u64; TABLE];
                let mut sum = 0u64;
                for i in 0..per_core {
                    if i.is_multiple_of(APPLY_EVERY) {
                        while let Ok((key, value)) = writes.try_recv() {
                            table[key] = value;
                        }
                    }
                    sum = sum.wrapping_add(table[key(i)]);
                }
                // The rest of the writes, until the writer is done.
                while let Some((key, value)) = writes.recv().await {
                    table[key] = value;
                }
                (table, sum)
            })
        })
        .collect();
    let (table, sum) = writer.await;
    core::hint::black_box(sum);
    for copy in copies {
        let (copy, sum) = copy.await;
        core::hint::black_box(sum);
        assert!(copy == table, "a copy missed a write");
    }
    let ns = crate::per_op(start, per_core * cores as u64);
    println!("bench table_replicas_{cores} {ns:.1} ns");
}
