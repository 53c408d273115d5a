//! The model checks are in `tests/`, each including one of chanos's
//! protocol files by path; what they share is here.

/// Runs `f` under loom with at most `preemptions` forced switches in a
/// run (loom's bound; bugs need few, and the spin loops would make an
/// unbounded search endless). `LOOM_MAX_PREEMPTIONS` overrides it, for a
/// longer search on demand.
pub fn model(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    // Each look of a waiting loop is a branch: allow long waits.
    builder.max_branches = 100_000;
    builder.check(f);
}
