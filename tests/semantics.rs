//! The runtime's contract, one behaviour per test: tasks, channels,
//! select, time and deadlock reports (issue items 2-5 and 7).

use chanos::chan::{self, oneshot, SendError, TryRecvError, TrySendError};
use chanos::time::{self, Duration, Instant};
use chanos::{select, spawn, spawn_named, yield_now, Runtime};
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

/// Runs `f` as main on a fresh, seeded runtime; panics on deadlock.
fn run<F: std::future::Future + 'static>(f: F) -> F::Output {
    Runtime::with_seed(7)
        .block_on(f)
        .unwrap_or_else(|d| panic!("unexpected {d}"))
}

/// A log that futures inside one task append to (`Isolated` forbids sharing
/// it with a spawned task, so the test joins the futures within main).
type Log = Rc<RefCell<Vec<String>>>;

// ---- tasks ----

#[test]
fn join_handle_returns_the_output() {
    let out = run(async { spawn(async { 6 * 7 }).await });
    assert_eq!(out, 42);
}

#[test]
fn dropping_a_join_handle_detaches_the_task() {
    let got = run(async {
        let (tx, rx) = chan::bounded::<u32>(1);
        drop(spawn(async move {
            yield_now().await;
            tx.send(5).await.unwrap();
        }));
        rx.recv().await
    });
    assert_eq!(got, Some(5));
}

#[test]
fn yield_lets_every_other_runnable_task_run_first() {
    let order = run(async {
        let (tx, rx) = chan::bounded::<&'static str>(16);
        let a = tx.clone();
        let first = spawn_named("a", async move {
            a.send("a1").await.unwrap();
            yield_now().await;
            a.send("a2").await.unwrap();
        });
        let b = tx.clone();
        let second = spawn_named("b", async move {
            b.send("b1").await.unwrap();
            yield_now().await;
            b.send("b2").await.unwrap();
        });
        drop(tx);
        first.await;
        second.await;
        let mut order = Vec::new();
        while let Some(x) = rx.recv().await {
            order.push(x);
        }
        order
    });
    assert_eq!(order, ["b1", "a1", "b2", "a2"]);
}

#[test]
fn a_waker_may_be_woken_from_another_thread() {
    struct External(Option<std::thread::JoinHandle<()>>);
    impl std::future::Future for External {
        type Output = ();
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            if let Some(thread) = self.0.take() {
                thread.join().unwrap();
                return std::task::Poll::Ready(());
            }
            let waker = cx.waker().clone();
            self.0 = Some(std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                waker.wake();
            }));
            std::task::Poll::Pending
        }
    }
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    run(async {
        std::future::poll_fn(|cx| {
            assert_send_sync(cx.waker());
            std::task::Poll::Ready(())
        })
        .await;
        // A timer keeps the runtime from calling the wait a deadlock: it
        // cannot see a waker held by a foreign thread.
        let guard = spawn(time::sleep(Duration::from_secs(5)));
        External(None).await;
        drop(guard);
    });
}

#[test]
fn runtimes_one_after_another_share_one_executor_and_old_wakers_are_harmless() {
    // The first runtime's main task gives its waker away.
    let old_waker = Runtime::with_seed(1)
        .block_on(std::future::poll_fn(|cx| {
            std::task::Poll::Ready(cx.waker().clone())
        }))
        .unwrap();
    for round in 0..3 {
        let old_waker = old_waker.clone();
        let sum = run(async move {
            let (tx, rx) = chan::bounded::<u32>(0);
            let workers: Vec<_> = (0..100)
                .map(|i| {
                    let tx = tx.clone();
                    spawn(async move { tx.send(i).await.unwrap() })
                })
                .collect();
            drop(tx);
            // A wake-up meant for the old runtime's task lands on one of
            // these: a spurious wake-up, nothing more.
            old_waker.wake_by_ref();
            let mut sum = 0;
            while let Some(i) = rx.recv().await {
                sum += i;
            }
            for worker in workers {
                worker.await;
            }
            sum
        });
        assert_eq!(sum, 4950, "round {round}");
    }
}

#[test]
fn a_panic_in_a_task_unwinds_out_of_block_on() {
    let result = std::panic::catch_unwind(|| {
        Runtime::new().block_on(async {
            spawn_named("doomed", async { panic!("boom") }).await;
        })
    });
    let payload = result.expect_err("the panic propagates");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    // The thread's runtime was released: a new one runs.
    assert_eq!(run(async { 1 }), 1);
}

// ---- channels ----

#[test]
fn rendezvous_send_completes_only_when_a_receiver_takes_the_value() {
    let log: Log = Rc::default();
    let sender_log = log.clone();
    let events = run(async move {
        let (tx, rx) = chan::bounded::<u32>(0);
        let (done_tx, done_rx) = chan::bounded::<()>(1);
        let sender = async move {
            sender_log.borrow_mut().push("send starts".into());
            tx.send(1).await.unwrap();
            sender_log.borrow_mut().push("send done".into());
            done_tx.send(()).await.unwrap();
        };
        let receiver = async {
            for _ in 0..3 {
                yield_now().await;
            }
            log.borrow_mut().push("receiving".into());
            let v = rx.recv().await;
            log.borrow_mut().push(format!("got {v:?}"));
            done_rx.recv().await;
        };
        futures::future::join(sender, receiver).await;
        log.borrow().clone()
    });
    let at = |e: &str| {
        events
            .iter()
            .position(|x| x == e)
            .unwrap_or_else(|| panic!("{e}: {events:?}"))
    };
    assert!(at("send starts") < at("receiving"), "{events:?}");
    assert!(
        at("receiving") < at("send done"),
        "the send finished alone: {events:?}"
    );
    assert!(events.contains(&"got Some(1)".to_string()));
}

#[test]
fn a_buffered_channel_takes_n_values_without_a_receiver() {
    run(async {
        let (tx, rx) = chan::bounded::<u32>(3);
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        assert_eq!((tx.len(), tx.capacity()), (3, 3));
        assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));
        assert_eq!(rx.try_recv(), Ok(0));
        tx.try_send(3).unwrap();
        let got: Vec<u32> = (0..3).map(|_| rx.try_recv().unwrap()).collect();
        assert_eq!(got, [1, 2, 3]);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn try_ops_on_a_rendezvous_need_a_waiting_partner() {
    run(async {
        let (tx, rx) = chan::bounded::<u32>(0);
        assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let rx2 = rx.clone();
        let waiting = spawn(async move { rx2.recv().await });
        yield_now().await; // the receiver now waits
        tx.try_send(2).unwrap();
        assert_eq!(waiting.await, Some(2));
    });
}

#[test]
fn dropping_the_last_sender_closes_after_the_buffer_drains() {
    run(async {
        let (tx, rx) = chan::bounded::<u32>(4);
        let tx2 = tx.clone();
        tx.send(1).await.unwrap();
        tx2.send(2).await.unwrap();
        drop(tx);
        assert!(!rx.is_closed());
        drop(tx2);
        assert!(rx.is_closed());
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn explicit_close_wakes_waiting_receivers_and_refuses_senders() {
    run(async {
        let (tx, rx) = chan::bounded::<u32>(0);
        let rx2 = rx.clone();
        let waiting = spawn(async move { rx2.recv().await });
        let tx2 = tx.clone();
        let sender = spawn(async move { tx2.send(1).await });
        drop(rx); // the other receiver remains
        yield_now().await;
        // The waiting receiver took the waiting sender's value.
        assert_eq!(waiting.await, Some(1));
        assert_eq!(sender.await, Ok(()));
        let tx3 = tx.clone();
        let blocked = spawn(async move { tx3.send(2).await });
        yield_now().await;
        tx.close();
        assert_eq!(blocked.await, Err(SendError(2)));
        assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
    });
}

#[test]
fn close_refuses_a_blocked_rendezvous_send_and_the_receive_sees_none() {
    run(async {
        let (tx, rx) = chan::bounded::<u32>(0);
        let tx2 = tx.clone();
        let blocked = spawn(async move { tx2.send(1).await });
        yield_now().await; // the send now waits for a receiver
        tx.close();
        assert_eq!(
            rx.recv().await,
            None,
            "a closed rendezvous has nothing to give"
        );
        assert_eq!(blocked.await, Err(SendError(1)));
    });
}

#[test]
fn close_refuses_a_blocked_send_seen_through_a_select_receive_arm() {
    run(async {
        let (tx, rx) = chan::bounded::<u32>(0);
        let tx2 = tx.clone();
        let blocked = spawn(async move { tx2.send(1).await });
        yield_now().await;
        tx.close();
        let got = select! {
            v = rx.recv() => v,
        };
        assert_eq!(got, None);
        assert_eq!(blocked.await, Err(SendError(1)));
    });
}

/// Eight senders block on a channel of capacity `cap` (filled first); the
/// closer closes it and drains at once, or yields first. Either way the
/// drain gets only what was buffered, and every blocked sender its value.
fn close_with_eight_blocked_senders(cap: usize, closer_yields_first: bool) {
    let (drained, refused) = run(async move {
        let (tx, rx) = chan::bounded::<u32>(cap);
        for v in 0..cap as u32 {
            tx.send(100 + v).await.unwrap();
        }
        let senders: Vec<_> = (0..8)
            .map(|v| {
                let tx = tx.clone();
                spawn(async move { tx.send(v).await })
            })
            .collect();
        yield_now().await; // all eight now wait
        tx.close();
        if closer_yields_first {
            yield_now().await;
        }
        let mut drained = Vec::new();
        while let Some(v) = rx.recv().await {
            drained.push(v);
        }
        let mut refused = Vec::new();
        for sender in senders {
            refused.push(sender.await);
        }
        (drained, refused)
    });
    let buffered: Vec<u32> = (0..cap as u32).map(|v| 100 + v).collect();
    assert_eq!(
        drained, buffered,
        "capacity {cap}, yield {closer_yields_first}"
    );
    let expected: Vec<_> = (0..8).map(|v| Err(SendError(v))).collect();
    assert_eq!(
        refused, expected,
        "capacity {cap}, yield {closer_yields_first}"
    );
}

#[test]
fn close_refuses_every_blocked_sender_whatever_runs_first() {
    for cap in [0, 1] {
        for closer_yields_first in [false, true] {
            close_with_eight_blocked_senders(cap, closer_yields_first);
        }
    }
}

#[test]
fn sending_with_no_receivers_returns_the_value() {
    run(async {
        let (tx, rx) = chan::bounded::<String>(1);
        drop(rx);
        assert_eq!(tx.send("kept".into()).await, Err(SendError("kept".into())));
        let (tx, rx) = chan::bounded::<String>(0);
        let waiting = spawn(async move { tx.send("back".into()).await });
        yield_now().await;
        drop(rx);
        assert_eq!(waiting.await, Err(SendError("back".into())));
    });
}

#[test]
fn waiting_receivers_are_served_first_come_first_served() {
    let order = run(async {
        let (tx, rx) = chan::bounded::<u32>(0);
        let (out_tx, out_rx) = chan::bounded::<(u32, u32)>(8);
        for id in 0..4 {
            let (rx, out) = (rx.clone(), out_tx.clone());
            spawn(async move {
                let v = rx.recv().await.unwrap();
                out.send((id, v)).await.unwrap();
            });
            yield_now().await; // let it queue up in order
        }
        drop(out_tx);
        for v in 10..14 {
            tx.send(v).await.unwrap();
        }
        let mut got = Vec::new();
        while let Some(x) = out_rx.recv().await {
            got.push(x);
        }
        got.sort();
        got
    });
    assert_eq!(order, [(0, 10), (1, 11), (2, 12), (3, 13)]);
}

#[test]
fn waiting_senders_are_served_first_come_first_served() {
    let got = run(async {
        let (tx, rx) = chan::bounded::<u32>(1);
        tx.send(0).await.unwrap();
        for id in 1..=4 {
            let tx = tx.clone();
            spawn(async move { tx.send(id).await.unwrap() });
            yield_now().await;
        }
        drop(tx);
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got
    });
    assert_eq!(got, [0, 1, 2, 3, 4]);
}

#[test]
fn a_cancelled_receive_loses_no_value() {
    run(async {
        let (tx, rx) = chan::bounded::<u32>(0);
        // A receive that times out while a value is being handed to it.
        let rx2 = rx.clone();
        let timed_out = time::timeout(Duration::from_millis(1), rx2.recv()).await;
        assert_eq!(timed_out, Err(time::Elapsed));
        let sender = spawn(async move { tx.send(7).await });
        assert_eq!(rx.recv().await, Some(7));
        assert_eq!(sender.await, Ok(()));
    });
}

#[test]
fn a_receive_dropped_after_a_value_was_handed_to_it_gives_the_value_back() {
    run(async {
        let (tx, rx) = chan::bounded::<u32>(0);
        let mut first = Box::pin(rx.recv());
        let mut second = Box::pin(rx.recv());
        std::future::poll_fn(|cx| {
            assert!(first.as_mut().poll(cx).is_pending());
            assert!(second.as_mut().poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        tx.try_send(5).unwrap(); // handed to `first`, which has not collected it
        tx.try_send(6).unwrap(); // handed to `second`
        drop(first); // 5 must not be lost: there is no other waiting receiver
        assert_eq!(second.await, Some(6));
        assert_eq!(rx.try_recv(), Ok(5));
        // With another receiver waiting, a dropped receive passes its value on.
        let mut third = Box::pin(rx.recv());
        let mut fourth = Box::pin(rx.recv());
        std::future::poll_fn(|cx| {
            assert!(third.as_mut().poll(cx).is_pending());
            assert!(fourth.as_mut().poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        tx.try_send(7).unwrap();
        drop(third);
        assert_eq!(fourth.await, Some(7));
    });
}

#[test]
fn a_receiver_is_a_stream_and_a_sender_is_a_sink() {
    use futures::{SinkExt, StreamExt};
    let got = run(async {
        let (tx, rx) = chan::bounded::<u32>(0);
        let mut tx = tx.into_sink();
        let producer = spawn(async move {
            for i in 0..5 {
                SinkExt::send(&mut tx, i).await.unwrap();
            }
            SinkExt::close(&mut tx).await.unwrap(); // flushes
        });
        let (fwd_tx, fwd_rx) = chan::bounded::<u32>(2);
        let forwarder = spawn(async move { rx.map(Ok).forward(fwd_tx.into_sink()).await });
        let got: Vec<u32> = fwd_rx.collect().await;
        producer.await;
        forwarder.await.unwrap();
        got
    });
    assert_eq!(got, [0, 1, 2, 3, 4]);
}

#[test]
fn oneshot_delivers_one_value_or_reports_a_dropped_sender() {
    run(async {
        let (tx, rx) = oneshot::channel::<String>();
        spawn(async move { tx.send("once".into()).unwrap() });
        assert_eq!(rx.await.as_deref(), Ok("once"));
        let (tx, rx) = oneshot::channel::<u32>();
        drop(tx);
        assert_eq!(rx.await, Err(oneshot::RecvError));
        let (tx, rx) = oneshot::channel::<u32>();
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(3), Err(3));
    });
}

// ---- select ----

#[test]
fn select_default_runs_when_nothing_is_ready() {
    run(async {
        let (_tx, rx) = chan::bounded::<u32>(0);
        let took_default = select! {
            _ = rx.recv() => false,
            default => true,
        };
        assert!(took_default);
    });
}

#[test]
fn select_chooses_fairly_among_ready_arms_and_losers_keep_their_values() {
    let (a_count, b_count) = run(async {
        let (a_tx, a_rx) = chan::bounded::<u32>(1);
        let (b_tx, b_rx) = chan::bounded::<u32>(1);
        let (mut a_count, mut b_count) = (0, 0);
        for i in 0..4000 {
            let _ = a_tx.try_send(i); // full when a lost last time
            let _ = b_tx.try_send(i);
            select! {
                v = a_rx.recv() => { assert!(v.is_some()); a_count += 1 },
                v = b_rx.recv() => { assert!(v.is_some()); b_count += 1 },
            }
            // Exactly one value left the two channels.
            assert_eq!(a_rx.len() + b_rx.len(), 1);
        }
        (a_count, b_count)
    });
    assert_eq!(a_count + b_count, 4000);
    assert!(
        (1700..=2300).contains(&a_count),
        "a chosen {a_count} of 4000 times"
    );
}

/// With an arm that is never ready between two that are, each ready arm
/// still wins half the time: a random rotation of the arms (start
/// anywhere, go on in order) would favour the arm after the idle one.
#[test]
fn select_is_fair_when_an_idle_arm_sits_between_ready_ones() {
    let (first, last) = run(async {
        let (a_tx, a_rx) = chan::bounded::<u32>(1);
        let (_idle_tx, idle_rx) = chan::bounded::<u32>(1);
        let (c_tx, c_rx) = chan::bounded::<u32>(1);
        let (mut first, mut last) = (0, 0);
        for i in 0..4000 {
            let _ = a_tx.try_send(i);
            let _ = c_tx.try_send(i);
            select! {
                _ = a_rx.recv() => first += 1,
                _ = idle_rx.recv() => unreachable!("nothing was sent"),
                _ = c_rx.recv() => last += 1,
            }
        }
        (first, last)
    });
    assert_eq!(first + last, 4000);
    assert!(
        (1700..=2300).contains(&first),
        "the first arm won {first} of 4000 times"
    );
}

#[test]
fn select_is_reproducible_with_the_same_seed() {
    fn choices(seed: u64) -> Vec<u8> {
        Runtime::with_seed(seed)
            .block_on(async {
                let (a_tx, a_rx) = chan::bounded::<()>(1);
                let (b_tx, b_rx) = chan::bounded::<()>(1);
                let mut out = Vec::new();
                for _ in 0..64 {
                    let _ = a_tx.try_send(());
                    let _ = b_tx.try_send(());
                    out.push(select! { _ = a_rx.recv() => 0, _ = b_rx.recv() => 1 });
                }
                out
            })
            .unwrap()
    }
    assert_eq!(choices(1), choices(1));
    assert_ne!(choices(1), choices(2));
}

#[test]
fn select_waits_then_takes_the_first_arm_that_becomes_ready() {
    run(async {
        let (a_tx, a_rx) = chan::bounded::<u32>(0);
        let (b_tx, b_rx) = chan::bounded::<u32>(0);
        let late = spawn(async move {
            time::sleep(Duration::from_millis(5)).await;
            b_tx.send(2).await
        });
        let got = select! {
            v = a_rx.recv() => ("a", v),
            v = b_rx.recv() => ("b", v),
        };
        assert_eq!(got, ("b", Some(2)));
        assert_eq!(late.await, Ok(()));
        // The losing arm left no waiter behind: a try_send finds no receiver.
        assert!(matches!(a_tx.try_send(1), Err(TrySendError::Full(1))));
    });
}

#[test]
fn a_select_send_arm_delivers_only_when_chosen() {
    run(async {
        let (a_tx, a_rx) = chan::bounded::<u32>(0);
        let (b_tx, b_rx) = chan::bounded::<u32>(0);
        let receiver = spawn(async move { (b_rx.recv().await, a_rx) });
        let sent = select! {
            r = a_tx.send(1) => ("a", r),
            r = b_tx.send(2) => ("b", r),
        };
        assert_eq!(sent, ("b", Ok(())));
        let (got, a_rx) = receiver.await;
        assert_eq!(got, Some(2));
        assert_eq!(
            a_rx.try_recv(),
            Err(TryRecvError::Empty),
            "the losing send delivered"
        );
    });
}

#[test]
fn select_with_both_sides_selecting_pairs_up() {
    run(async {
        let (tx, rx) = chan::bounded::<u32>(0);
        let (never_tx, never_rx) = chan::bounded::<u32>(0);
        let other = spawn(async move {
            select! {
                v = rx.recv() => v,
                v = never_rx.recv() => v,
            }
        });
        let r = select! {
            r = tx.send(9) => r,
            _ = time::after(Duration::from_secs(5)) => panic!("timed out"),
        };
        assert_eq!(r, Ok(()));
        assert_eq!(other.await, Some(9));
        drop(never_tx);
    });
}

#[test]
fn select_sees_a_closed_channel_as_ready() {
    run(async {
        let (tx, rx) = chan::bounded::<u32>(0);
        let (_keep, idle) = chan::bounded::<u32>(0);
        let closer = spawn(async move {
            yield_now().await;
            drop(tx);
        });
        let got = select! {
            v = rx.recv() => v,
            v = idle.recv() => v.map(|x| x + 100),
        };
        assert_eq!(got, None);
        closer.await;
    });
}

#[test]
fn time_after_times_out_a_select() {
    run(async {
        let (_tx, rx) = chan::bounded::<u32>(0);
        let start = Instant::now();
        let timed_out = select! {
            _ = rx.recv() => false,
            _ = time::after(Duration::from_millis(20)) => true,
        };
        assert!(timed_out);
        assert!(start.elapsed() >= Duration::from_millis(20));
    });
}

// ---- time ----

#[test]
fn a_time_after_that_lost_its_select_is_freed_with_it() {
    let (baseline, during, after) = run(async {
        let (tx, rx) = chan::bounded::<u32>(1);
        let baseline = chanos::stats();
        let mut during = baseline;
        for i in 0..20_000u32 {
            tx.try_send(i).unwrap();
            select! {
                v = rx.recv() => assert_eq!(v, Some(i)),
                _ = time::after(Duration::from_secs(3600)) => unreachable!("an hour passed"),
            }
            if i == 10_000 {
                during = chanos::stats();
            }
        }
        (baseline, during, chanos::stats())
    });
    for (when, stats) in [("during", during), ("after", after)] {
        assert_eq!(
            stats.channels, baseline.channels,
            "channels {when} the loop"
        );
        assert_eq!(stats.timers, baseline.timers, "timers {when} the loop");
    }
    assert_eq!(after.channels_made, baseline.channels_made + 20_000);
}

#[test]
fn a_dropped_time_after_cancels_its_timer_and_into_receiver_keeps_it() {
    run(async {
        let before = chanos::stats().timers;
        let kept = time::after(Duration::from_millis(5)).into_receiver();
        drop(time::after(Duration::from_secs(3600)));
        assert_eq!(
            chanos::stats().timers,
            before + 1,
            "only the kept timer is pending"
        );
        assert!(kept.recv().await.is_some(), "the kept timer still ticks");
        let waited = time::after(Duration::from_millis(1));
        assert!(
            waited.recv().await.is_some(),
            "an After derefs to its receiver"
        );
    });
}

#[test]
fn sleep_waits_at_least_its_duration_and_sleepers_wake_in_order() {
    let order = run(async {
        let (tx, rx) = chan::bounded::<u64>(3);
        let start = Instant::now();
        for ms in [30u64, 10, 20] {
            let tx = tx.clone();
            spawn(async move {
                time::sleep(Duration::from_millis(ms)).await;
                assert!(start.elapsed() >= Duration::from_millis(ms));
                tx.send(ms).await.unwrap();
            });
        }
        drop(tx);
        let mut order = Vec::new();
        while let Some(ms) = rx.recv().await {
            order.push(ms);
        }
        order
    });
    assert_eq!(order, [10, 20, 30]);
}

#[test]
fn timeout_returns_the_output_or_elapsed() {
    run(async {
        assert_eq!(
            time::timeout(Duration::from_millis(50), async { 3 }).await,
            Ok(3)
        );
        let slow = time::sleep(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(
            time::timeout(Duration::from_millis(10), slow).await,
            Err(time::Elapsed)
        );
        assert!(start.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn interval_ticks_once_per_period_and_skips_missed_ticks() {
    run(async {
        let period = Duration::from_millis(10);
        let mut ticker = time::interval(period);
        let start = Instant::now();
        let first = ticker.tick().await;
        let second = ticker.tick().await;
        assert_eq!(second - first, period);
        assert!(start.elapsed() >= Duration::from_millis(20));
        // Fall five periods behind: the next tick comes at once, and the one
        // after is on the period grid again, not a burst of late ticks.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let late = ticker.tick().await;
        let next = ticker.tick().await;
        assert_eq!(late, second + period);
        assert!(
            next - late >= Duration::from_millis(40),
            "{:?}",
            next - late
        );
    });
}

#[test]
fn instants_are_monotonic() {
    let a = Instant::now();
    let b = Instant::now();
    assert!(b >= a);
    assert_eq!(a.duration_since(b), Duration::ZERO);
}

// ---- deadlock ----

#[test]
fn deadlock_reports_every_blocked_task_and_what_it_waits_on() {
    let report = Runtime::new()
        .block_on(async {
            let (tx, rx) = chan::bounded_named::<u32>(0, "jobs");
            let (_keep, idle) = chan::bounded::<u32>(1);
            spawn_named("producer", async move {
                tx.send(1).await.ok();
                tx.send(2).await.ok();
            });
            spawn_named("chooser", async move {
                select! {
                    _ = idle.recv() => {},
                    _ = idle.recv() => {},
                }
            });
            assert_eq!(rx.recv().await, Some(1));
            std::future::pending::<()>().await;
            drop(rx);
        })
        .expect_err("this program deadlocks");
    let text = report.to_string();
    assert_eq!(report.tasks.len(), 3, "{text}");
    assert_eq!(report.tasks[0].name, "main");
    assert!(
        report.tasks[0]
            .waiting_on
            .contains("something outside chanos"),
        "{text}"
    );
    assert_eq!(report.tasks[1].name, "producer");
    assert!(
        report.tasks[1]
            .waiting_on
            .starts_with("send on channel \"jobs\" (capacity 0"),
        "{text}"
    );
    assert_eq!(report.tasks[2].name, "chooser");
    assert!(
        report.tasks[2]
            .waiting_on
            .starts_with("select over receive on channel (capacity 1, made at tests/semantics.rs:"),
        "{text}"
    );
    assert!(
        text.starts_with("chanos: deadlock! all 3 tasks are asleep"),
        "{text}"
    );
}

#[test]
fn a_deadlock_report_names_the_task_being_joined_even_when_its_slot_was_reused() {
    let report = Runtime::new()
        .block_on(async {
            // The first task ends, and the second takes its slot (and number):
            // main's note "join task N" is then kept, not made again.
            assert_eq!(spawn_named("quick", async { 7 }).await, 7);
            let (tx, rx) = chan::bounded_named::<u32>(0, "never");
            let stuck = spawn_named("stuck", async move { rx.recv().await });
            stuck.await;
            drop(tx);
        })
        .expect_err("main waits for a task that waits for main");
    let text = report.to_string();
    assert_eq!(report.tasks.len(), 2, "{text}");
    assert_eq!(report.tasks[0].name, "main");
    let stuck = &report.tasks[1];
    assert_eq!(stuck.name, "stuck", "{text}");
    assert_eq!(
        report.tasks[0].waiting_on,
        format!("join task {} \"stuck\"", stuck.id),
        "{text}"
    );
    assert!(
        stuck.waiting_on.starts_with("receive on channel \"never\""),
        "{text}"
    );
}

#[test]
fn a_pending_timer_is_not_a_deadlock() {
    let done = run(async {
        let (tx, rx) = chan::bounded::<u32>(0);
        spawn(async move {
            time::sleep(Duration::from_millis(30)).await;
            tx.send(1).await.unwrap();
        });
        rx.recv().await
    });
    assert_eq!(done, Some(1));
}

#[test]
fn a_sleep_inside_a_deadlocked_program_only_delays_the_report() {
    let start = Instant::now();
    let report = Runtime::new()
        .block_on(async {
            let (_tx, rx) = chan::bounded::<u32>(0);
            spawn_named("napper", time::sleep(Duration::from_millis(30)));
            rx.recv().await
        })
        .expect_err("deadlock after the nap");
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert_eq!(report.tasks.len(), 1);
}

// ---- cooperative budget ----

#[test]
fn a_long_chain_of_handoffs_still_lets_a_queued_task_run() {
    // Two tasks hand a value back and forth 10,000 times; each handoff
    // makes the woken partner the LIFO "next" task. A third task, runnable
    // since before the chain began, must still run early on, not after it.
    let seen_at = run(async {
        let (ran_tx, ran_rx) = chan::bounded::<()>(1);
        spawn_named("bystander", async move {
            ran_tx.try_send(()).expect("room for one");
        });
        let (ping_tx, ping_rx) = chan::bounded::<u32>(0);
        let (pong_tx, pong_rx) = chan::bounded::<u32>(0);
        let echo = spawn_named("echo", async move {
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v).await.unwrap();
            }
        });
        let mut seen_at = None;
        for round in 0..10_000u32 {
            ping_tx.send(round).await.unwrap();
            assert_eq!(pong_rx.recv().await, Some(round));
            if seen_at.is_none() && ran_rx.try_recv().is_ok() {
                seen_at = Some(round);
            }
        }
        drop(ping_tx);
        echo.await;
        seen_at
    });
    let round = seen_at.expect("the bystander never ran during 10,000 handoffs");
    assert!(round < 100, "the bystander ran only at round {round}");
}

#[test]
fn a_loop_of_operations_that_never_wait_cannot_starve_other_tasks() {
    // Without a budget, `spinner` would never return Pending (a closed
    // channel is always ready) and `stopper` would never run: a hang. Run it
    // on a thread of its own so that a regression fails instead of hanging.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let spins = run(async {
            let (closed_tx, closed_rx) = chan::bounded::<u32>(0);
            drop(closed_tx);
            let (stop_tx, stop_rx) = chan::bounded::<()>(1);
            // Spawned first, so it runs after the spinner (the LIFO slot).
            spawn_named("stopper", async move {
                yield_now().await;
                stop_tx.send(()).await.unwrap()
            });
            let spinner = spawn_named("spinner", async move {
                let mut spins = 0u64;
                loop {
                    select! {
                        v = closed_rx.recv() => assert_eq!(v, None),
                        _ = stop_rx.recv() => return spins,
                    }
                    spins += 1;
                }
            });
            spinner.await
        });
        done_tx.send(spins).unwrap();
    });
    let spins = done_rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the spinner starved the stopper");
    // The stopper got to run while the spinner was spinning.
    assert!(spins >= 128, "{spins}");
}
