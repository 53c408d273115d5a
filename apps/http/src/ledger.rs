//! The server's counters, kept per core. Each core's ledger task owns that
//! core's counters; its connections tell it what happened over a channel
//! on the same core. A page that shows the counters asks its own core's
//! ledger for a *view*: this core's figures, fresh, and the other cores'
//! as last fetched. When those are older than [`FRESH_FOR`], the ledger
//! asks the connection that wanted the view to fetch them: that task asks
//! every other core's ledger over a second channel (the only traffic
//! between cores) and hands the answers back.
//!
//! Why not ask every core for every page: a core that has nothing to do
//! parks its thread, and waking it costs microseconds (measured: keep-alive
//! `GET /metrics` on 2 cores went from 74-84 k/s to 33-36 k/s when every
//! request asked the other core, and to 46-59 k/s with views at most 1 ms
//! old; 54-69 k/s at 10 ms). A ledger itself never waits for
//! another core, so two ledgers can never wait for each other.

use alloc::vec::Vec;
use chanos::chan::{oneshot, Receiver, Sender};
use chanos::select;
use chanos::time::{Duration, Instant};

/// How old the other cores' figures in a view may be: at most one ask of
/// the other cores per core every 10 ms.
pub(crate) const FRESH_FOR: Duration = Duration::from_millis(10);
/// A fetch that has not come back after this long is given up (its
/// connection may have gone): the next view starts another.
const FETCH_GIVEN_UP: Duration = Duration::from_millis(100);

/// What a core's connection tasks tell its ledger.
pub(crate) enum Event {
    Opened,
    Closed,
    Served,
    /// Every core's figures, as far as this ledger knows them.
    View(oneshot::Sender<View>),
    /// The other cores' reports, fetched for a view that said `stale`.
    Fetched(Vec<CoreReport>),
}

/// A request for a core's own report, from another core.
pub(crate) struct Ask(oneshot::Sender<CoreReport>);

/// One core's connection counters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub(crate) open: u64,
    pub(crate) accepted: u64,
    pub(crate) requests: u64,
}

/// What a core's ledger reports: its counters and its runtime statistics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CoreReport {
    pub(crate) core: usize,
    pub(crate) counts: Counts,
    pub(crate) stats: chanos::Stats,
}

/// Every core's report (in core order), and whether the asker should
/// fetch the other cores' reports afresh.
pub(crate) struct View {
    pub(crate) reports: Vec<CoreReport>,
    pub(crate) stale: bool,
}

/// Owns this core's counters until every connection and acceptor of the
/// core is gone; answers views and other cores' asks meanwhile.
pub(crate) async fn keep(events: Receiver<Event>, asks: Receiver<Ask>) {
    let mut counts = Counts::default();
    let mut others: Vec<CoreReport> = Vec::new();
    let mut fetched_at: Option<Instant> = None;
    let mut fetch_started: Option<Instant> = None;
    loop {
        let event = select! {
            event = events.recv() => event,
            ask = asks.recv() => match ask {
                Some(Ask(reply)) => {
                    let _ = reply.send(report(counts));
                    continue;
                }
                // Every connection and acceptor, on every core, is gone.
                None => return,
            },
        };
        match event {
            Some(Event::Opened) => {
                counts.open += 1;
                counts.accepted += 1;
            }
            Some(Event::Closed) => counts.open -= 1,
            Some(Event::Served) => counts.requests += 1,
            Some(Event::View(reply)) => {
                let old = fetched_at.is_none_or(|at| at.elapsed() > FRESH_FOR);
                let fetching = fetch_started.is_some_and(|at| at.elapsed() < FETCH_GIVEN_UP);
                let stale = old && !fetching;
                if stale {
                    fetch_started = Some(Instant::now());
                }
                let mut reports = others.clone();
                reports.push(report(counts));
                reports.sort_by_key(|r| r.core);
                let _ = reply.send(View { reports, stale });
            }
            Some(Event::Fetched(reports)) => {
                others = reports;
                fetched_at = Some(Instant::now());
                fetch_started = None;
            }
            None => return,
        }
    }
}

fn report(counts: Counts) -> CoreReport {
    CoreReport {
        core: chanos::core(),
        counts,
        stats: chanos::stats(),
    }
}

/// Every core's report, in core order, at most [`FRESH_FOR`] old (this
/// core's fresh), from this core's `ledger`; `ledgers` are every core's.
pub(crate) async fn every_core(ledger: &Sender<Event>, ledgers: &[Sender<Ask>]) -> Vec<CoreReport> {
    let (reply, answer) = oneshot::channel();
    if ledger.send(Event::View(reply)).await.is_err() {
        return Vec::new();
    }
    let Ok(view) = answer.await else {
        return Vec::new();
    };
    if !view.stale {
        return view.reports;
    }
    let here = chanos::core();
    let others = ask_cores(ledgers, here).await;
    let mut reports = others.clone();
    reports.extend(view.reports.into_iter().filter(|r| r.core == here));
    reports.sort_by_key(|r| r.core);
    let _ = ledger.send(Event::Fetched(others)).await;
    reports
}

/// The reports of every core but `here`: the asks go out first and the
/// answers are collected after, so the cores answer at the same time.
async fn ask_cores(ledgers: &[Sender<Ask>], here: usize) -> Vec<CoreReport> {
    let mut answers = Vec::with_capacity(ledgers.len());
    for (core, ledger) in ledgers.iter().enumerate() {
        let (reply, answer) = oneshot::channel();
        if core != here && ledger.send(Ask(reply)).await.is_ok() {
            answers.push(answer);
        }
    }
    let mut reports = Vec::with_capacity(answers.len());
    for answer in answers {
        if let Ok(report) = answer.await {
            reports.push(report);
        }
    }
    reports
}
