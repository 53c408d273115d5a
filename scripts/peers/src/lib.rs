//! Shared bits of the peer programs: argument parsing and the output format,
//! `bench <metric> <value> <unit>`, the same as chanos's apps print.

use std::time::Instant;

/// Prints one measurement.
pub fn report(metric: &str, value: f64, unit: &str) {
    println!("bench {metric} {value:.1} {unit}");
}

/// Nanoseconds per operation since `start`.
pub fn ns_per_op(start: Instant, ops: u64) -> f64 {
    start.elapsed().as_nanos() as f64 / ops as f64
}

/// The `i`-th argument as a number, or `default`; exits 64 on garbage.
pub fn arg(args: &[String], i: usize, default: u64) -> u64 {
    match args.get(i).map(|a| a.parse::<u64>()) {
        None => default,
        Some(Ok(n)) => n,
        Some(Err(_)) => usage_error(&format!("not a number: {}", args[i])),
    }
}

/// Prints `message` and exits with status 64.
pub fn usage_error(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(64)
}
