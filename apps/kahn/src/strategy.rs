//! Generated networks, for property tests (the `strategy` feature).

use crate::{Network, Op};
use proptest::prelude::*;

/// Networks of 2 to 4 tasks over 1 to 4 channels, scripts of up to 12 ops,
/// on 1 to 4 cores with each task on a core chosen at random.
pub fn network() -> impl Strategy<Value = Network> {
    (2usize..=4, 1usize..=4)
        .prop_flat_map(|(tasks, chans)| {
            (
                proptest::collection::vec(0usize..=3, chans),
                proptest::collection::vec(0..tasks, chans),
                proptest::collection::vec(0..tasks, chans),
                proptest::collection::vec(
                    proptest::collection::vec((0..chans, 0u8..10), 0..12),
                    tasks,
                ),
                (1usize..=4).prop_flat_map(move |cores| {
                    (Just(cores), proptest::collection::vec(0..cores, tasks))
                }),
            )
        })
        .prop_map(|(caps, producer, consumer, raw, (cores, placement))| {
            let scripts = raw
                .iter()
                .enumerate()
                .map(|(task, ops)| {
                    ops.iter()
                        .filter_map(|&(c, kind)| {
                            let produces = producer[c] == task;
                            let consumes = consumer[c] == task;
                            match kind {
                                0 if produces => Some(Op::Close(c)),
                                1..=4 if produces => Some(Op::Send(c)),
                                _ if consumes => Some(Op::Recv(c)),
                                _ if produces => Some(Op::Send(c)),
                                _ => None,
                            }
                        })
                        .collect()
                })
                .collect();
            Network {
                caps,
                producer,
                consumer,
                scripts,
                cores,
                placement,
            }
        })
}
