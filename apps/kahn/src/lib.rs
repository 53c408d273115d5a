//! Kahn process networks over chanos channels, with their exact model.
//!
//! A network has channels (capacities 0 to 3), each with one producer task
//! and one consumer task, and a script per task of sends, receives and
//! closes. Such a program has one outcome whatever the schedule: how far
//! each task gets, what every receive returns, and which tasks block for
//! ever. [`Network::model`] computes it by a fixpoint; [`run`] runs the
//! network on the executor, its tasks on the cores of `placement`. The
//! model-based test (`tests/model.rs`) runs generated networks hosted, and
//! `tests/image.rs` boots the `kahn` app with them on 2 and 4 CPUs: both
//! compare the run with the model.
#![no_std]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use chanos::chan::{self, Receiver, Sender};
use chanos::spawn_on_named;
use core::fmt;

#[cfg(feature = "strategy")]
pub mod strategy;

/// One step of a task's script, on channel number `.0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Send(usize),
    Recv(usize),
    Close(usize),
}

/// A network: its channels, who produces into and consumes from each, each
/// task's script, and where the tasks run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    pub caps: Vec<usize>,
    pub producer: Vec<usize>,
    pub consumer: Vec<usize>,
    pub scripts: Vec<Vec<Op>>,
    /// How many cores the runtime has, and the core of each task.
    pub cores: usize,
    pub placement: Vec<usize>,
}

/// What a task's op returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    SendRefused(u64),
    Received(Option<u64>),
    Closed,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Sent => write!(f, "sent"),
            Outcome::SendRefused(value) => write!(f, "refused {value}"),
            Outcome::Received(Some(value)) => write!(f, "received {value}"),
            Outcome::Received(None) => write!(f, "received none"),
            Outcome::Closed => write!(f, "closed"),
        }
    }
}

/// What the model says.
#[derive(Debug)]
pub struct Model {
    /// How many ops each task completes.
    pub progress: Vec<usize>,
    pub outcomes: Vec<Vec<Outcome>>,
}

impl Model {
    /// The tasks that block for ever, by number.
    pub fn blocked(&self, net: &Network) -> Vec<usize> {
        (0..net.scripts.len())
            .filter(|&t| self.progress[t] < net.scripts[t].len())
            .collect()
    }
}

/// How the deadlock report names what a task waits on, for `op`.
pub fn describe(op: Op) -> String {
    match op {
        Op::Send(c) => format!("send on channel \"c{c}\""),
        Op::Recv(c) => format!("receive on channel \"c{c}\""),
        Op::Close(c) => format!("close c{c}"),
    }
}

impl Network {
    /// Index in the producer's script of the first close of channel `c`.
    fn close_index(&self, c: usize) -> Option<usize> {
        self.scripts[self.producer[c]]
            .iter()
            .position(|op| *op == Op::Close(c))
    }

    fn count_before(&self, task: usize, end: usize, op: Op) -> usize {
        self.scripts[task][..end]
            .iter()
            .filter(|o| **o == op)
            .count()
    }

    /// Sends of `c` that carry a value: those before its first close.
    fn live_sends_before(&self, c: usize, end: usize) -> usize {
        let limit = self.close_index(c).map_or(end, |i| i.min(end));
        self.count_before(self.producer[c], limit, Op::Send(c))
    }

    /// The one outcome of the network, whatever the schedule: each task
    /// takes its next step whenever the model says it can complete.
    pub fn model(&self) -> Model {
        let tasks = self.scripts.len();
        let mut pc = alloc::vec![0usize; tasks];
        let mut outcomes = alloc::vec![Vec::new(); tasks];
        loop {
            let mut progressed = false;
            for t in 0..tasks {
                let Some(&op) = self.scripts[t].get(pc[t]) else {
                    continue;
                };
                let outcome = match op {
                    Op::Close(_) => Some(Outcome::Closed),
                    Op::Send(c) => {
                        let closed = self.close_index(c).is_some_and(|i| i < pc[t]);
                        let n = self.count_before(t, pc[t], Op::Send(c)) as u64;
                        if closed {
                            Some(Outcome::SendRefused(n))
                        } else {
                            let q = self.consumer[c];
                            let at_recv = self.scripts[q].get(pc[q]) == Some(&Op::Recv(c));
                            let reached =
                                self.count_before(q, pc[q], Op::Recv(c)) + usize::from(at_recv);
                            ((n as usize) < self.caps[c] + reached).then_some(Outcome::Sent)
                        }
                    }
                    Op::Recv(c) => {
                        let p = self.producer[c];
                        let m = self.count_before(t, pc[t], Op::Recv(c));
                        let at_send = self.scripts[p].get(pc[p]) == Some(&Op::Send(c))
                            && self.close_index(c).is_none_or(|i| i > pc[p]);
                        let offered = self.live_sends_before(c, pc[p]) + usize::from(at_send);
                        let closed = self.close_index(c).is_some_and(|i| i < pc[p]);
                        if m < offered {
                            Some(Outcome::Received(Some(m as u64)))
                        } else if closed {
                            Some(Outcome::Received(None))
                        } else {
                            None
                        }
                    }
                };
                if let Some(outcome) = outcome {
                    outcomes[t].push(outcome);
                    pc[t] += 1;
                    progressed = true;
                }
            }
            if !progressed {
                return Model {
                    progress: pc,
                    outcomes,
                };
            }
        }
    }

    /// The network as command-line words, which [`Network::parse`] reads:
    /// `cores=2 caps=0,3 producer=0,1 consumer=1,0 placement=0,1 t0=s0.r1.c0 t1=...`.
    pub fn to_args(&self) -> Vec<String> {
        let list = |v: &[usize]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut args = alloc::vec![
            format!("cores={}", self.cores),
            format!("caps={}", list(&self.caps)),
            format!("producer={}", list(&self.producer)),
            format!("consumer={}", list(&self.consumer)),
            format!("placement={}", list(&self.placement)),
        ];
        for (t, script) in self.scripts.iter().enumerate() {
            let ops: Vec<String> = script
                .iter()
                .map(|op| match op {
                    Op::Send(c) => format!("s{c}"),
                    Op::Recv(c) => format!("r{c}"),
                    Op::Close(c) => format!("c{c}"),
                })
                .collect();
            args.push(format!("t{t}={}", ops.join(".")));
        }
        args
    }

    /// Reads the words of [`Network::to_args`], checking that every number
    /// names a channel, task or core that exists.
    pub fn parse(args: &[String]) -> Result<Network, String> {
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        for arg in args {
            let (key, value) = arg
                .split_once('=')
                .ok_or_else(|| format!("{arg:?} is not KEY=VALUE"))?;
            fields.insert(key, value);
        }
        let field = |key: &str| {
            fields
                .get(key)
                .copied()
                .ok_or_else(|| format!("{key}= is missing"))
        };
        let numbers = |key: &str| -> Result<Vec<usize>, String> {
            let text = field(key)?;
            if text.is_empty() {
                return Ok(Vec::new());
            }
            text.split(',')
                .map(|n| {
                    n.parse()
                        .map_err(|_| format!("{key}: {n:?} is not a number"))
                })
                .collect()
        };
        let cores = field("cores")?
            .parse::<usize>()
            .map_err(|_| String::from("cores: not a number"))?;
        let caps = numbers("caps")?;
        let producer = numbers("producer")?;
        let consumer = numbers("consumer")?;
        let placement = numbers("placement")?;
        let tasks = placement.len();
        if producer.len() != caps.len() || consumer.len() != caps.len() {
            return Err("caps, producer and consumer must have one entry per channel".into());
        }
        if producer.iter().chain(&consumer).any(|&t| t >= tasks) {
            return Err("a producer or consumer names no task".into());
        }
        if cores == 0 || placement.iter().any(|&core| core >= cores) {
            return Err("a task's core is not below cores=".into());
        }
        let scripts = (0..tasks)
            .map(|t| {
                let text = fields.get(format!("t{t}").as_str()).copied().unwrap_or("");
                text.split('.')
                    .filter(|word| !word.is_empty())
                    .map(|word| {
                        let (kind, c) = word.split_at(1);
                        let c: usize = c.parse().map_err(|_| format!("t{t}: {word:?}"))?;
                        if c >= caps.len() {
                            return Err(format!("t{t}: {word:?} names no channel"));
                        }
                        match kind {
                            "s" => Ok(Op::Send(c)),
                            "r" => Ok(Op::Recv(c)),
                            "c" => Ok(Op::Close(c)),
                            _ => Err(format!("t{t}: {word:?} is not s, r or c")),
                        }
                    })
                    .collect()
            })
            .collect::<Result<_, String>>()?;
        Ok(Network {
            caps,
            producer,
            consumer,
            scripts,
            cores,
            placement,
        })
    }
}

/// A task's channel ends, kept alive until the whole program ends so that
/// a finished task's departure never changes what the others see.
struct Ends {
    senders: BTreeMap<usize, Sender<u64>>,
    receivers: BTreeMap<usize, Receiver<u64>>,
}

/// Runs `net` in the running runtime, task `t` (named "t`t`") on core
/// `net.placement[t]`, calling `seen(t, outcome)` as each op completes;
/// returns once every task is done (or never: a task blocked for ever is a
/// deadlock, which the runtime reports).
pub async fn run(net: Network, mut seen: impl FnMut(usize, Outcome)) {
    let mut ends: Vec<Ends> = (0..net.scripts.len())
        .map(|_| Ends {
            senders: BTreeMap::new(),
            receivers: BTreeMap::new(),
        })
        .collect();
    for (c, &cap) in net.caps.iter().enumerate() {
        let name: &'static str = alloc::boxed::Box::leak(format!("c{c}").into_boxed_str());
        let (tx, rx) = chan::bounded_named::<u64>(cap, name);
        ends[net.producer[c]].senders.insert(c, tx);
        ends[net.consumer[c]].receivers.insert(c, rx);
    }
    let (log_tx, log_rx) = chan::bounded_named::<(usize, Outcome)>(4096, "log");
    let (keep_tx, keep_rx) = chan::bounded::<Ends>(64);
    for (t, my_ends) in ends.into_iter().enumerate() {
        let script = net.scripts[t].clone();
        let (log, keep) = (log_tx.clone(), keep_tx.clone());
        spawn_on_named(net.placement[t], format!("t{t}"), async move {
            let mut next_value: BTreeMap<usize, u64> = BTreeMap::new();
            for op in script {
                let outcome = match op {
                    Op::Send(c) => {
                        let n = next_value.entry(c).or_default();
                        let value = *n;
                        *n += 1;
                        match my_ends.senders[&c].send(value).await {
                            Ok(()) => Outcome::Sent,
                            Err(chan::SendError(v)) => Outcome::SendRefused(v),
                        }
                    }
                    Op::Recv(c) => Outcome::Received(my_ends.receivers[&c].recv().await),
                    Op::Close(c) => {
                        my_ends.senders[&c].close();
                        Outcome::Closed
                    }
                };
                log.send((t, outcome)).await.expect("main keeps the log");
            }
            keep.send(my_ends).await.expect("main keeps the ends");
        });
    }
    drop((log_tx, keep_tx));
    while let Some((t, outcome)) = log_rx.recv().await {
        seen(t, outcome);
    }
    drop(keep_rx);
}
