//! Channels whose ends are on different threads: a channel starts local to
//! the core that made it and becomes shared the first time another thread
//! takes its lock (`chan::lock`).

use chanos::chan::{self, TryRecvError, TrySendError};
use chanos::{yield_now, Runtime};
use std::thread;

const N: u64 = 20_000;

#[test]
fn a_task_and_a_plain_thread_trade_values_in_order_over_channels_made_in_the_task() {
    let received = Runtime::with_seed(3)
        .block_on(async {
            let (tx, rx) = chan::bounded::<u64>(8);
            let (back_tx, back_rx) = chan::bounded::<u64>(8);
            let thread = thread::spawn(move || {
                let mut replies = 0;
                let take_replies = |replies: &mut u64| loop {
                    match back_rx.try_recv() {
                        Ok(v) => {
                            assert_eq!(v, 2 * *replies, "replies in order");
                            *replies += 1;
                        }
                        Err(TryRecvError::Empty) => return false,
                        Err(TryRecvError::Closed) => return true,
                    }
                };
                for i in 0..N {
                    let mut value = i;
                    loop {
                        match tx.try_send(value) {
                            Ok(()) => break,
                            Err(TrySendError::Full(v)) => value = v,
                            Err(TrySendError::Closed(_)) => panic!("closed early"),
                        }
                        take_replies(&mut replies);
                        thread::yield_now();
                    }
                }
                drop(tx);
                while !take_replies(&mut replies) {
                    thread::yield_now();
                }
                replies
            });
            let mut expected = 0;
            loop {
                match rx.try_recv() {
                    Ok(v) => {
                        assert_eq!(v, expected, "values in order");
                        expected += 1;
                        let mut reply = 2 * v;
                        while let Err(TrySendError::Full(r)) = back_tx.try_send(reply) {
                            reply = r;
                            yield_now().await;
                        }
                    }
                    Err(TryRecvError::Empty) => yield_now().await,
                    Err(TryRecvError::Closed) => break,
                }
            }
            drop(back_tx);
            // Not a blocking join at once: the thread's first use of
            // `back_rx` asks this core to share that channel, which this
            // core answers between polls.
            while !thread.is_finished() {
                yield_now().await;
            }
            let replies = thread.join().expect("the thread finished");
            assert_eq!(replies, N, "every reply arrived");
            expected
        })
        .expect("no deadlock");
    assert_eq!(received, N);
}

#[test]
fn a_channel_outlives_its_runtime_and_works_from_another_thread() {
    let (tx, rx) = Runtime::with_seed(1)
        .block_on(async { chan::bounded::<u32>(1) })
        .unwrap();
    thread::spawn(move || tx.try_send(5).unwrap())
        .join()
        .unwrap();
    assert_eq!(rx.try_recv(), Ok(5));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn a_channel_made_outside_any_runtime_is_shared_from_the_start() {
    let (tx, rx) = chan::bounded::<u32>(1);
    let got = Runtime::with_seed(2)
        .block_on(async move {
            thread::spawn(move || tx.try_send(9).unwrap())
                .join()
                .unwrap();
            rx.recv().await
        })
        .unwrap();
    assert_eq!(got, Some(9));
}
