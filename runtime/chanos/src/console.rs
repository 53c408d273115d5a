//! The console: `print!`-style macros and the `log` logger.
//!
//! Hosted, the console is stdout (and stderr for `eprint!`, `eprintln!` and
//! reports); in the image it is the serial console.

use crate::platform::{self, Stream};
use core::fmt::{self, Write};

#[doc(hidden)]
pub fn _print(stream_err: bool, args: fmt::Arguments<'_>) {
    let stream = if stream_err { Stream::Err } else { Stream::Out };
    match args.as_str() {
        Some(text) => platform::console_write(stream, text),
        None => platform::console_write(stream, &alloc::fmt::format(args)),
    }
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::_print(false, format_args!($($arg)*)) };
}

/// Prints a line to the console.
#[macro_export]
macro_rules! println {
    () => { $crate::console::_print(false, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::_print(false, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints to the console's error stream.
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::console::_print(true, format_args!($($arg)*)) };
}

/// Prints a line to the console's error stream.
#[macro_export]
macro_rules! eprintln {
    () => { $crate::console::_print(true, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::_print(true, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Writes `log` records to the console's error stream as
/// `[  12.345678 INFO  target] message`, with the time since start.
struct ConsoleLogger;

impl log::Log for ConsoleLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let ns = platform::now_ns();
        let mut line = alloc::string::String::new();
        let _ = writeln!(
            line,
            "[{:>4}.{:06} {:<5} {}] {}",
            ns / 1_000_000_000,
            ns % 1_000_000_000 / 1000,
            record.level(),
            record.target(),
            record.args()
        );
        platform::console_write(Stream::Err, &line);
    }

    fn flush(&self) {}
}

/// Installs the console logger, at the level the platform asks for
/// (`CHANOS_LOG` hosted), `warn` by default.
pub(crate) fn init_logger() {
    static LOGGER: ConsoleLogger = ConsoleLogger;
    let asked = platform::log_level();
    let level = match asked.as_deref().map(str::parse::<log::LevelFilter>) {
        None => log::LevelFilter::Warn,
        Some(Ok(level)) => level,
        Some(Err(_)) => {
            crate::eprintln!(
                "chanos: log level {:?} is not one of off, error, warn, info, debug, trace; using warn",
                asked.unwrap_or_default()
            );
            log::LevelFilter::Warn
        }
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
