//! Model-based property tests: random programs of sends, receives, closes
//! and selects over several tasks and channels (capacities 0 to 3), run on
//! the executor and checked against a reference model.
//!
//! 1. `kahn_networks`: every channel has one producer task and one consumer
//!    task, and tasks only send, receive and close. Such a program (a Kahn
//!    process network) has one outcome whatever the schedule, which a small
//!    fixpoint model computes: how far each task gets, what every receive
//!    returns, and which tasks block forever. The run must match it exactly,
//!    deadlock report included, with the tasks spread over 1 to 4 cores at
//!    random (the outcome does not depend on the schedule, so neither on
//!    the cores). The networks, their model and the code that runs them
//!    are `apps/kahn`'s library, which the image tests boot as well.
//! 2. `selects_lose_nothing`: several producers and consumers share channels,
//!    sending through `select!` send arms (with `default` and timeouts) and
//!    receiving through `select!` over every channel, with an early `close`.
//!    The schedule decides who gets what; the model checks what must hold
//!    anyway: every value sent is received exactly once, on its channel, in
//!    its sender's order; a refused send returns its own value, never
//!    received; and the program ends without deadlock.
//! 3. `closes_with_waiters_refuse_every_waiting_send`: senders, receivers
//!    (plain and through `select!`) and a closer on one channel, each task
//!    yielding a random number of times before each step, so the close
//!    lands while senders or receivers wait, in every kind of order. From
//!    the log of what happened: receives that begin after the close get
//!    only what was buffered then (never a waiting sender's value), sends
//!    that begin after it are refused, every value is received exactly once
//!    or refused and given back, and every receiver ends with `None`.

use chanos::chan::{self, Receiver, Sender};
use chanos::time::{self, Duration};
use chanos::{select, spawn_named, Runtime};
use kahn::strategy::network;
use kahn::{describe, Network, Outcome};
use proptest::prelude::*;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

// ---------- 1. Kahn networks: exact model ----------

/// Runs `net` in a runtime of its own (seeded: the same choices each time),
/// collecting each task's outcomes.
fn run_network(net: &Network) -> (Vec<Vec<Outcome>>, Result<(), chanos::Deadlock>) {
    let seen: Rc<RefCell<Vec<Vec<Outcome>>>> =
        Rc::new(RefCell::new(vec![Vec::new(); net.scripts.len()]));
    let record = seen.clone();
    let result = Runtime::with_seed(3)
        .on_cores(net.cores)
        .block_on(kahn::run(net.clone(), move |t, outcome| {
            record.borrow_mut()[t].push(outcome)
        }));
    let seen = seen.borrow().clone();
    (seen, result)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn kahn_networks(net in network()) {
        let model = net.model();
        let (seen, result) = run_network(&net);
        prop_assert_eq!(&seen, &model.outcomes, "outcomes differ for {:?}", net);
        let blocked = model.blocked(&net);
        match result {
            Ok(()) => prop_assert!(blocked.is_empty(), "model blocks {:?} but the run ended", blocked),
            Err(deadlock) => {
                prop_assert!(!blocked.is_empty(), "unexpected {}", deadlock);
                // The report lists tasks by core, then number: put them in
                // the model's order (main, then t0, t1, ...).
                let mut tasks = deadlock.tasks.clone();
                tasks.sort_by_key(|t| t.name.strip_prefix('t').and_then(|n| n.parse::<usize>().ok()));
                let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
                let mut expected = vec!["main".to_string()];
                expected.extend(blocked.iter().map(|t| format!("t{t}")));
                prop_assert_eq!(names, expected.iter().map(String::as_str).collect::<Vec<_>>());
                prop_assert!(tasks[0].waiting_on.starts_with("receive on channel \"log\""));
                for (task, &t) in tasks[1..].iter().zip(&blocked) {
                    prop_assert_eq!(task.core as usize, net.placement[t], "{} is on its core", &task.name);
                    let op = net.scripts[t][model.progress[t]];
                    prop_assert!(
                        task.waiting_on.starts_with(&describe(op)),
                        "{} waits on {:?}, model says {:?}", task.name, task.waiting_on, op
                    );
                }
            }
        }
    }
}

// ---------- 2. Selects: what must hold under any schedule ----------

#[derive(Clone, Copy, Debug)]
enum SendStep {
    /// A plain send on one channel.
    Plain(usize),
    /// `select!` over sends on two channels.
    Either(usize, usize),
    /// `select!` with `default`: try, and on failure send plainly.
    TryFirst(usize),
    /// `select!` with a short timeout; retried until it sends.
    Patient(usize),
}

#[derive(Clone, Debug)]
struct Mesh {
    caps: Vec<usize>,
    producers: Vec<Vec<SendStep>>,
    consumers: usize,
    /// A producer that closes a channel after its sends.
    closer: Option<(usize, usize)>,
}

fn mesh() -> impl Strategy<Value = Mesh> {
    let step = |chans: usize| {
        prop_oneof![
            (0..chans).prop_map(SendStep::Plain),
            (0..chans, 0..chans).prop_map(|(a, b)| SendStep::Either(a, b)),
            (0..chans).prop_map(SendStep::TryFirst),
            (0..chans).prop_map(SendStep::Patient),
        ]
    };
    (1usize..=3, 1usize..=3, 1usize..=3).prop_flat_map(move |(chans, producers, consumers)| {
        (
            proptest::collection::vec(0usize..=3, chans),
            proptest::collection::vec(proptest::collection::vec(step(chans), 0..10), producers),
            Just(consumers),
            proptest::option::of((0..producers, 0..chans)),
        )
            .prop_map(|(caps, producers, consumers, closer)| Mesh {
                caps,
                producers,
                consumers,
                closer,
            })
    })
}

/// A value: which producer sent it, its sequence number, and its channel.
type Value = (usize, u32, usize);

#[derive(Debug, Default)]
struct ProducerLog {
    sent: Vec<Value>,
    refused: Vec<(Value, Value)>,
}

async fn produce(
    me: usize,
    steps: Vec<SendStep>,
    txs: Vec<Sender<Value>>,
    close: Option<usize>,
) -> ProducerLog {
    let mut log = ProducerLog::default();
    let mut seq = 0;
    let mut value = |c: usize| {
        seq += 1;
        (me, seq, c)
    };
    let settle = |log: &mut ProducerLog, v: Value, r: Result<(), chan::SendError<Value>>| match r {
        Ok(()) => log.sent.push(v),
        Err(chan::SendError(back)) => log.refused.push((v, back)),
    };
    for step in steps {
        match step {
            SendStep::Plain(c) => {
                let v = value(c);
                let r = txs[c].send(v).await;
                settle(&mut log, v, r);
            }
            SendStep::Either(a, b) => {
                let (va, vb) = (value(a), value(b));
                select! {
                    r = txs[a].send(va) => settle(&mut log, va, r),
                    r = txs[b].send(vb) => settle(&mut log, vb, r),
                }
            }
            SendStep::TryFirst(c) => {
                let v = value(c);
                let done = select! {
                    r = txs[c].send(v) => { settle(&mut log, v, r); true },
                    default => false,
                };
                if !done {
                    let v = value(c);
                    let r = txs[c].send(v).await;
                    settle(&mut log, v, r);
                }
            }
            SendStep::Patient(c) => loop {
                let v = value(c);
                let done = select! {
                    r = txs[c].send(v) => { settle(&mut log, v, r); true },
                    _ = time::after(Duration::from_micros(200)) => false,
                };
                if done {
                    break;
                }
            },
        }
    }
    if let Some(c) = close {
        txs[c].close();
    }
    log
}

/// Receives from every channel until all are closed; three arms, with
/// missing channels stood in for by closed ones. A closed channel's arm is
/// always ready, so once seen closed it is swapped for one that never is
/// (this task holds its sender), so that the loop waits instead of spinning
/// (the executor's budget would keep the other tasks running, but slowly).
async fn consume(mut rxs: Vec<Receiver<Value>>) -> Vec<Value> {
    let mut got = Vec::new();
    let mut open = [true; 3];
    let mut quiet = Vec::new();
    while open.iter().any(|o| *o) {
        let (which, v) = select! {
            v = rxs[0].recv() => (0, v),
            v = rxs[1].recv() => (1, v),
            v = rxs[2].recv() => (2, v),
        };
        match v {
            Some(v) => {
                assert_eq!(v.2, which, "value {v:?} arrived on channel {which}");
                got.push(v);
            }
            None => {
                open[which] = false;
                let (tx, rx) = chan::bounded::<Value>(0);
                quiet.push(tx);
                rxs[which] = rx;
            }
        }
    }
    got
}

fn run_mesh(
    mesh: &Mesh,
    seed: u64,
) -> Result<(Vec<ProducerLog>, Vec<Vec<Value>>), chanos::Deadlock> {
    let mesh = mesh.clone();
    Runtime::with_seed(seed).block_on(async move {
        let mut txs = Vec::new();
        let mut rxs = Vec::new();
        for c in 0..3 {
            let (tx, rx) = chan::bounded::<Value>(mesh.caps.get(c).copied().unwrap_or(0));
            txs.push(tx);
            rxs.push(rx);
        }
        // Stand-in channels beyond the mesh's own are closed from the start.
        txs.truncate(mesh.caps.len());
        let producers: Vec<_> = mesh
            .producers
            .iter()
            .enumerate()
            .map(|(p, steps)| {
                let close = mesh.closer.filter(|(who, _)| *who == p).map(|(_, c)| c);
                spawn_named(
                    format!("producer {p}"),
                    produce(p, steps.clone(), txs.clone(), close),
                )
            })
            .collect();
        drop(txs);
        let consumers: Vec<_> = (0..mesh.consumers)
            .map(|i| spawn_named(format!("consumer {i}"), consume(rxs.clone())))
            .collect();
        drop(rxs);
        let mut logs = Vec::new();
        for p in producers {
            logs.push(p.await);
        }
        let mut received = Vec::new();
        for c in consumers {
            received.push(c.await);
        }
        (logs, received)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn selects_lose_nothing(mesh in mesh(), seed in any::<u64>()) {
        let (logs, received) = run_mesh(&mesh, seed).unwrap_or_else(|d| panic!("{d} in {mesh:?}"));
        let mut sent: Vec<Value> = logs.iter().flat_map(|l| l.sent.iter().copied()).collect();
        let mut got: Vec<Value> = received.iter().flatten().copied().collect();
        sent.sort();
        got.sort();
        prop_assert_eq!(&got, &sent, "received and sent differ");
        for log in &logs {
            for (v, back) in &log.refused {
                prop_assert_eq!(v, back, "a refused send returned another value");
                prop_assert!(!got.contains(v), "refused value {:?} was received", v);
            }
        }
        // Per receiver, per channel, each producer's values arrive in order.
        for values in &received {
            let mut last: BTreeMap<(usize, usize), u32> = BTreeMap::new();
            for &(p, seq, c) in values {
                let prev = last.insert((p, c), seq);
                prop_assert!(prev.is_none_or(|prev| prev < seq), "reordered: {:?}", values);
            }
        }
        // Refusals happen only after the closer closed that channel.
        if mesh.closer.is_none() {
            prop_assert!(logs.iter().all(|l| l.refused.is_empty()));
        }
    }
}

// ---------- 3. Closes while senders and receivers wait ----------

/// Senders, receivers and one closer share a channel; every task yields a
/// random number of times before each step, so that the close lands in
/// every kind of interleaving: with senders blocked (capacity full, or a
/// rendezvous without a receiver), with receivers blocked (nothing
/// buffered), before, between and after the transfers.
#[derive(Clone, Debug)]
struct CloseRace {
    cap: usize,
    /// Per sender: the yields before each of its sends.
    senders: Vec<Vec<u8>>,
    /// Per receiver: the yields before each receive, used in turn, and
    /// whether it receives through `select!`.
    receivers: Vec<(Vec<u8>, bool)>,
    /// Yields before the closer closes.
    close_after: u8,
}

fn close_race() -> impl Strategy<Value = CloseRace> {
    let yields = || proptest::collection::vec(0u8..4, 1..6);
    (
        0usize..=3,
        proptest::collection::vec(yields(), 1..=4),
        proptest::collection::vec((yields(), any::<bool>()), 1..=3),
        0u8..12,
    )
        .prop_map(|(cap, senders, receivers, close_after)| CloseRace {
            cap,
            senders,
            receivers,
            close_after,
        })
}

/// What happened, in the order it happened (logged without waiting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    SendBegins(u32),
    Sent(u32),
    Refused {
        sent: u32,
        back: u32,
    },
    ReceiveBegins(usize),
    Received(usize, Option<u32>),
    /// The channel closed with this many values buffered.
    Closed(usize),
}

async fn yields(n: u8) {
    for _ in 0..n {
        chanos::yield_now().await;
    }
}

fn run_close_race(race: &CloseRace, seed: u64) -> Result<Vec<Event>, chanos::Deadlock> {
    let race = race.clone();
    Runtime::with_seed(seed).block_on(async move {
        let (tx, rx) = chan::bounded_named::<u32>(race.cap, "raced");
        let (log, events) = chan::bounded_named::<Event>(1024, "events");
        let mut tasks = Vec::new();
        for (s, pauses) in race.senders.iter().enumerate() {
            let (tx, log, pauses) = (tx.clone(), log.clone(), pauses.clone());
            tasks.push(spawn_named(format!("sender {s}"), async move {
                for (i, pause) in pauses.into_iter().enumerate() {
                    yields(pause).await;
                    let value = (s * 100 + i) as u32;
                    log.try_send(Event::SendBegins(value))
                        .expect("room in the log");
                    let event = match tx.send(value).await {
                        Ok(()) => Event::Sent(value),
                        Err(chan::SendError(back)) => Event::Refused { sent: value, back },
                    };
                    log.try_send(event).expect("room in the log");
                }
            }));
        }
        for (r, (pauses, through_select)) in race.receivers.iter().enumerate() {
            let (rx, log, pauses) = (rx.clone(), log.clone(), pauses.clone());
            let through_select = *through_select;
            tasks.push(spawn_named(format!("receiver {r}"), async move {
                // A second arm that is never ready: the select must wait.
                let (_quiet_tx, quiet) = chan::bounded::<u32>(0);
                for pause in pauses.iter().cycle() {
                    yields(*pause).await;
                    log.try_send(Event::ReceiveBegins(r))
                        .expect("room in the log");
                    let got = if through_select {
                        select! {
                            v = rx.recv() => v,
                            v = quiet.recv() => v,
                        }
                    } else {
                        rx.recv().await
                    };
                    log.try_send(Event::Received(r, got))
                        .expect("room in the log");
                    if got.is_none() {
                        break;
                    }
                }
            }));
        }
        let closer_log = log.clone();
        let close_after = race.close_after;
        tasks.push(spawn_named("closer", async move {
            yields(close_after).await;
            closer_log
                .try_send(Event::Closed(tx.len()))
                .expect("room in the log");
            tx.close();
        }));
        drop((rx, log));
        for task in tasks {
            task.await;
        }
        let mut seen = Vec::new();
        while let Ok(event) = events.try_recv() {
            seen.push(event);
        }
        seen
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn closes_with_waiters_refuse_every_waiting_send(race in close_race(), seed in any::<u64>()) {
        let events = run_close_race(&race, seed).unwrap_or_else(|d| panic!("{d} in {race:?}"));
        let closed_at = events.iter().position(|e| matches!(e, Event::Closed(_))).expect("closed");
        let Event::Closed(buffered) = events[closed_at] else { unreachable!() };
        let mut sent = Vec::new();
        let mut received = Vec::new();
        // Receives that began after the close: they may drain the buffer, nothing more.
        let mut begun_after_close = vec![0usize; race.receivers.len()];
        let mut drained_after_close = 0;
        for (at, event) in events.iter().enumerate() {
            match *event {
                Event::SendBegins(v) if at > closed_at => {
                    let outcome = events[at..].iter().find(|e| matches!(e,
                        Event::Sent(x) | Event::Refused { sent: x, .. } if *x == v));
                    prop_assert!(matches!(outcome, Some(Event::Refused { .. })),
                        "send of {} began after the close but was not refused: {:?}", v, events);
                }
                Event::Sent(v) => sent.push(v),
                Event::Refused { sent: v, back } => prop_assert_eq!(v, back, "another value came back"),
                Event::ReceiveBegins(r) if at > closed_at => begun_after_close[r] += 1,
                Event::Received(r, Some(v)) => {
                    received.push(v);
                    // Is this the answer to a receive that began after the close?
                    let begun_before = events[..at].iter().rposition(|e| *e == Event::ReceiveBegins(r))
                        .is_some_and(|b| b < closed_at);
                    if !begun_before {
                        drained_after_close += 1;
                    }
                }
                _ => {}
            }
        }
        prop_assert!(drained_after_close <= buffered,
            "receives begun after the close got {} values, {} were buffered: {:?}",
            drained_after_close, buffered, events);
        // Every receiver ends with None; every value sent is received exactly once.
        for r in 0..race.receivers.len() {
            prop_assert!(events.contains(&Event::Received(r, None)), "receiver {} never saw None", r);
        }
        let refused: Vec<u32> = events.iter().filter_map(|e| match e {
            Event::Refused { sent, .. } => Some(*sent), _ => None }).collect();
        for v in &refused {
            prop_assert!(!received.contains(v), "refused value {} was received: {:?}", v, events);
        }
        let mut got = received.clone();
        got.sort();
        sent.sort();
        prop_assert_eq!(got, sent, "received and sent differ: {:?}", events);
        // Each sender's values arrive in its order at each receiver.
        let mut last: BTreeMap<(usize, u32), u32> = BTreeMap::new();
        for event in &events {
            if let Event::Received(r, Some(v)) = *event {
                let prev = last.insert((r, v / 100), v);
                prop_assert!(prev.is_none_or(|p| p < v), "reordered: {:?}", events);
            }
        }
    }
}
