//! The deadlock report: every blocked task, by name, and what it waits on.

use super::task::{ChanOp, Header, TaskName, WaitOn};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// Returned by [`Runtime::block_on`](super::Runtime::block_on) when nothing
/// can run, no timer is pending and `main` has not finished. Its `Display`
/// is the report `#[chanos::main]` prints before exiting with status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlock {
    /// Every task still alive, in slot order (`main` first).
    pub tasks: Vec<BlockedTask>,
}

/// One blocked task in a [`Deadlock`] report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedTask {
    /// The task's number (its slot on its core; `main` is 0 on core 0).
    pub id: u32,
    /// The core the task runs on.
    pub core: u32,
    /// The task's name.
    pub name: String,
    /// What it waits on, e.g. `receive on channel "requests" (capacity 0, made at src/main.rs:9:18)`.
    pub waiting_on: String,
}

impl BlockedTask {
    pub(super) fn new(
        header: &Header,
        core: u32,
        name_of: &dyn Fn(u32) -> Option<TaskName>,
    ) -> Self {
        let wait = header.wait.take();
        let mut waiting_on = String::new();
        let _ = match &wait {
            WaitOn::Nothing => write!(
                waiting_on,
                "something outside chanos (a future that never wakes)"
            ),
            WaitOn::Chan(ChanOp::Recv, chan) => write!(waiting_on, "receive on {}", Label(&**chan)),
            WaitOn::Chan(ChanOp::Send, chan) => write!(waiting_on, "send on {}", Label(&**chan)),
            WaitOn::Select(group) => write!(waiting_on, "select over {}", Label(&**group)),
            WaitOn::Join(index) => match name_of(*index) {
                Some(name) => write!(waiting_on, "join task {index} {name:?}"),
                None => write!(waiting_on, "join task {index}"),
            },
            WaitOn::Sleep => write!(waiting_on, "a timer"),
        };
        header.wait.set(wait); // a report only reads
        BlockedTask {
            id: header.index,
            core,
            name: String::from(&*header.name),
            waiting_on,
        }
    }
}

struct Label<'a>(&'a dyn super::Labelled);

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.label(f)
    }
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "chanos: deadlock! all {} tasks are asleep and nothing can wake them:",
            self.tasks.len()
        )?;
        let many_cores = self.tasks.iter().any(|t| t.core != 0);
        for task in &self.tasks {
            write!(f, "  task {} {:?} ", task.id, task.name)?;
            if many_cores {
                write!(f, "on core {} ", task.core)?;
            }
            writeln!(f, "waits to {}", task.waiting_on)?;
        }
        Ok(())
    }
}
