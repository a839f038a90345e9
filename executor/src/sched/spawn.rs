//! Spawning and placement, and where a woken task goes: [`Executor::spawn`]
//! and its variants, the placement rule ([`Executor::place`]), and
//! `schedule`/`enqueue`, which put a task with `QUEUED` set into its home
//! core's LIFO slot or onto its queue.
//!
//! Relies on the crate docs' run-queue rules (anyone pushes; only a core's
//! own code fills its LIFO slot) and ends every push to another core with
//! the waker's half of the idle protocol (`notify`, in `run`).

use core::{future::Future, ptr::NonNull, sync::atomic::Ordering::Relaxed};

use super::{Executor, stats::bump};
use crate::{
    CoreId, JoinHandle, Platform, Priority, SpawnError,
    loom::Ordering,
    task::{self, Header, ORPHAN, TaskRef},
};

impl<P: Platform> Executor<P> {
    /// Spawns `future` at `priority` on the core [`place`](Self::place)
    /// picks. Never fails for lack of room: only memory bounds the number of
    /// tasks (an allocation failure is the global allocator's error path).
    pub fn spawn<F>(&'static self, priority: Priority, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(self.place(), priority, future, false)
    }

    /// Spawns `future` on `core` (it may be stolen or migrated later).
    ///
    /// # Panics
    /// If `core` is out of range (a caller bug, in task context).
    pub fn spawn_on<F>(
        &'static self,
        core: CoreId,
        priority: Priority,
        future: F,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(self.index_of(core), priority, future, false)
    }

    /// Spawns `future` on `core` for good: stealing and balancing leave a
    /// pinned task where it is (for work that must run on one core, such as
    /// the two ends of a cross-core ping-pong).
    ///
    /// # Panics
    /// If `core` is out of range.
    pub fn spawn_pinned<F>(
        &'static self,
        core: CoreId,
        priority: Priority,
        future: F,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(self.index_of(core), priority, future, true)
    }

    /// [`spawn`](Self::spawn), subject to the optional admission limit
    /// [`Config::max_tasks`](crate::Config::max_tasks).
    pub fn try_spawn<F>(
        &'static self,
        priority: Priority,
        future: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.admit()?;
        Ok(self.spawn_inner(self.place(), priority, future, false))
    }

    /// [`spawn_on`](Self::spawn_on), reporting a bad core or the admission
    /// limit as an error.
    pub fn try_spawn_on<F>(
        &'static self,
        core: CoreId,
        priority: Priority,
        future: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if core.0 as usize >= self.cores.len() {
            return Err(SpawnError::NoSuchCore(core));
        }
        self.admit()?;
        Ok(self.spawn_inner(core.0 as usize, priority, future, false))
    }

    /// The index of `core`.
    ///
    /// # Panics
    /// If `core` is out of range (a caller bug, in task context).
    #[track_caller]
    fn index_of(&self, core: CoreId) -> usize {
        let index = core.0 as usize;
        assert!(index < self.cores.len(), "executor: no core {}", core.0);
        index
    }

    fn admit(&self) -> Result<(), SpawnError> {
        match self.config.max_tasks {
            Some(max) if self.live.load(Relaxed) >= max => Err(SpawnError::TooManyTasks { max }),
            _ => Ok(()),
        }
    }

    fn spawn_inner<F>(
        &'static self,
        target: usize,
        priority: Priority,
        future: F,
        pinned: bool,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.live.fetch_add(1, Relaxed);
        self.cores[target].live[priority as usize].fetch_add(1, Relaxed);
        let id = self.next_id.fetch_add(1, Relaxed);
        let (task, join) = task::allocate(self, id, priority, target as u32, pinned, future);
        self.enqueue(task, target, self.current_index());
        // SAFETY: `allocate` gave the JoinHandle its reference and
        // JOIN_INTEREST, and `F::Output` is the handle's type.
        unsafe { JoinHandle::new(join) }
    }

    /// The placement rule, O(1). From a core: that core, unless it is
    /// *overloaded* — more than
    /// [`Config::spawn_local_limit`](crate::Config::spawn_local_limit) tasks
    /// queued and more than that many beyond a randomly picked other core —
    /// in which case that other core. From a thread that is not a core: the
    /// shorter queue of two cores picked at random ("power of two choices").
    ///
    /// Staying local keeps a spawner and what it spawns on one core (a task
    /// and the task it talks to share caches and wake each other through the
    /// LIFO slot); the relative test spreads a one-sided burst; idle cores
    /// steal the rest.
    pub fn place(&self) -> usize {
        let n = self.cores.len();
        if n == 1 {
            return 0;
        }
        let limit = self.config.spawn_local_limit;
        if let Some(me) = self.current_index() {
            let mine = self.cores[me].len();
            if mine <= limit {
                return me;
            }
            let r = self.cores[me].random() as usize;
            let other = (me + 1 + r % (n - 1)) % n;
            return if mine <= self.cores[other].len() + limit {
                me
            } else {
                other
            };
        }
        // Not a core (a host thread): a shared counter, hashed.
        let x = self.rng.fetch_add(0x9E37_79B9, Relaxed);
        let r = x.wrapping_mul(0x85EB_CA6B) ^ (x >> 15);
        let a = (r as usize) % n;
        let b = ((r >> 16) as usize) % n;
        if self.cores[b].len() < self.cores[a].len() {
            b
        } else {
            a
        }
    }

    /// A task block was freed; `header` is its (still readable) header. No
    /// one else holds a reference, so its home cannot be changing.
    pub(crate) fn task_freed(&self, header: &Header) {
        self.live.fetch_sub(1, Relaxed);
        let home = self.home_of(header);
        self.cores[home].live[header.priority as usize].fetch_sub(1, Relaxed);
    }

    // ----- waking and enqueueing ------------------------------------------

    /// A woken task (with `QUEUED` and one reference for the queue) goes to
    /// its home core: into that core's LIFO slot when the waker runs on that
    /// core (it runs next), else onto its queue with a notification. Any
    /// context; never blocks, allocates or frees.
    pub(crate) fn schedule(&self, task: TaskRef) {
        let header = task.header();
        let home = self.home_of(header);
        let here = self.current_index();
        let core = &self.cores[home];
        if here == Some(home) {
            bump(&core.stats.wakes_local, 1);
            if header.state.load(Ordering::Relaxed) & ORPHAN == 0 {
                let old = core.lifo.swap(task.into_raw().as_ptr(), Ordering::AcqRel);
                if let Some(old) = NonNull::new(old) {
                    // SAFETY: the slot held a reference put there by
                    // `into_raw`; the swap took it out.
                    let old = unsafe { TaskRef::from_raw(old) };
                    let level = old.header().priority as usize;
                    core.push_level(level, old);
                }
                return;
            }
        } else {
            bump(&core.stats.wakes_remote, 1);
        }
        self.enqueue(task, home, here);
    }

    /// The core whose queue a wake of this task goes to (its home, clamped to
    /// the cores that exist).
    pub(super) fn home_of(&self, header: &Header) -> usize {
        (header.home.load(Ordering::Relaxed) as usize).min(self.cores.len() - 1)
    }

    /// Pushes `task` (with `QUEUED` set) onto `target`'s queue at its
    /// priority and notifies `target` (idle protocol).
    pub(crate) fn enqueue(&self, task: TaskRef, target: usize, here: Option<usize>) {
        let level = task.header().priority as usize;
        self.cores[target].push_level(level, task);
        self.notify(target, here);
    }
}
