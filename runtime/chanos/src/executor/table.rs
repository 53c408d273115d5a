//! One executor's task table: the slots (wakers point at them), the tasks
//! they hold, and their lifetimes: a task's start and end, the deadlock
//! report's list, shutting down, and reuse by the thread's next runtime.

use super::slot::{Slot, CHUNK};
use super::task::ErasedTask;
use super::task_pool::TaskAlloc;
use super::{BlockedTask, Deadlock, Shared};
use alloc::rc::Rc;
use alloc::vec::Vec;

impl Shared {
    pub(super) fn slot(&self, index: u32) -> &'static Slot {
        let i = index as usize;
        &self.slots.borrow()[i / CHUNK][i % CHUNK]
    }

    pub(super) fn alloc_slot(&'static self) -> &'static Slot {
        if let Some(index) = self.free.borrow_mut().pop() {
            return self.slot(index);
        }
        let mut tasks = self.tasks.borrow_mut();
        let index = tasks.len();
        tasks.push(None);
        if index.is_multiple_of(CHUNK) {
            self.slots
                .borrow_mut()
                .push(Slot::leak_chunk(self, index as u32));
        }
        self.slot(index as u32)
    }

    pub(super) fn insert_task(
        &'static self,
        slot: &'static Slot,
        task: Rc<dyn ErasedTask, TaskAlloc>,
    ) {
        slot.task.set(Some(core::ptr::NonNull::from(&*task)));
        self.tasks.borrow_mut()[slot.index as usize] = Some(task);
        self.counters.tasks_live.bump();
        self.schedule(slot);
    }

    /// Frees the slot of a task that has finished.
    pub(super) fn end_task(&self, slot: &'static Slot) {
        slot.task.set(None);
        let ended = self.tasks.borrow_mut()[slot.index as usize].take();
        self.free.borrow_mut().push(slot.index);
        self.counters.tasks_live.drop_one();
        drop(ended);
    }

    pub(super) fn for_each_slot(&self, mut f: impl FnMut(&'static Slot)) {
        for chunk in self.slots.borrow().iter() {
            chunk.iter().for_each(&mut f);
        }
    }

    pub(super) fn deadlock_report(&self) -> Deadlock {
        Deadlock {
            tasks: self.blocked_tasks(),
        }
    }

    pub(super) fn blocked_tasks(&self) -> Vec<BlockedTask> {
        let tasks = self.tasks.borrow();
        let name_of = |index: u32| {
            tasks
                .get(index as usize)
                .and_then(Option::as_ref)
                .map(|t| t.header().name.clone())
        };
        let core = self.core.get();
        tasks
            .iter()
            .flatten()
            .map(|t| BlockedTask::new(t.header(), core, &name_of))
            .collect()
    }

    /// Drops every task that is left, then forgets the executor's state.
    /// The task table keeps its length: every slot stays numbered, and
    /// `reset` frees them all.
    pub(super) fn shut_down(&'static self) {
        self.for_each_slot(|slot| slot.task.set(None));
        loop {
            // Dropping a future may wake others, spawn, or drop tasks' last
            // handles: never hold a borrow while it runs.
            let tasks: Vec<_> = self
                .tasks
                .borrow_mut()
                .iter_mut()
                .map(Option::take)
                .collect();
            if tasks.iter().all(Option::is_none) {
                break;
            }
            drop(tasks);
        }
        drop(core::mem::take(&mut *self.services.borrow_mut()));
        self.counters.tasks_live.set(0);
        self.timers.clear();
        self.queue.borrow_mut().clear();
        self.next.set(None);
    }

    /// Makes a shut-down executor as good as new for another runtime. Its
    /// slots are all free again; a waker kept from the old runtime can at
    /// most wake a new task spuriously, which tasks tolerate (see `slot`).
    pub(super) fn reset(&'static self, seed: u64) {
        let slots = self.tasks.borrow().len() as u32;
        *self.free.borrow_mut() = (0..slots).rev().collect();
        self.for_each_slot(|slot| {
            slot.queued.set(false);
            slot.remote_queued
                .store(false, core::sync::atomic::Ordering::Relaxed);
        });
        critical_section::with(|cs| {
            self.injector.reset();
            self.share_requests.borrow_ref_mut(cs).clear();
        });
        self.running.set(core::ptr::null());
        self.running_header.set(core::ptr::null());
        self.wait_noted.set(false);
        self.rng.set(seed | 1);
        self.wake_sources.set(0);
        self.counters.reset();
        critical_section::with(|cs| self.remote_spawns.borrow_ref_mut(cs).clear());
        self.spawns_pending
            .store(false, core::sync::atomic::Ordering::Relaxed);
        self.core.set(0);
        self.cores.set(None);
    }
}
