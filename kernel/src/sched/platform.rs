//! The executor's view of the machine: [`executor::Platform`] implemented
//! with per-CPU data, the Local APIC and `sti; hlt`.
//!
//! Executor cores are numbered densely over the CPUs that came online
//! (`CoreId(k)` ↔ the k-th online CPU index), so a CPU that failed to start
//! leaves no hole the executor could place work in.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use executor::{CoreId, Platform};
use x86_64::instructions::interrupts;

use crate::arch::interrupts::vector;
use crate::arch::{apic, percpu, tsc};
use crate::config::MAX_CPUS;
use crate::time;

const NO_CORE: u32 = u32::MAX;

/// The kernel's [`Platform`].
pub struct KernelPlatform {
    /// CPU index of each executor core.
    cpu_of_core: Vec<u32>,
    /// Executor core of each CPU index (`NO_CORE` if none).
    core_of_cpu: [AtomicU32; MAX_CPUS],
}

impl KernelPlatform {
    /// A platform whose executor cores are the CPUs `cpus` (indices, in order).
    pub fn new(cpus: &[u32]) -> Self {
        let core_of_cpu = [const { AtomicU32::new(NO_CORE) }; MAX_CPUS];
        for (core, &cpu) in cpus.iter().enumerate() {
            core_of_cpu[cpu as usize].store(core as u32, Ordering::Relaxed);
        }
        Self {
            cpu_of_core: cpus.to_vec(),
            core_of_cpu,
        }
    }

    /// The CPU index behind executor core `core`.
    pub fn cpu_of(&self, core: CoreId) -> u32 {
        self.cpu_of_core[core.0 as usize]
    }
}

impl Platform for KernelPlatform {
    fn current_core(&self) -> CoreId {
        let cpu = percpu::this_cpu().index();
        CoreId(self.core_of_cpu[cpu as usize].load(Ordering::Relaxed))
    }

    fn wake_core(&self, core: CoreId) {
        let cpu = self.cpu_of(core);
        let target = percpu::percpu_for(cpu);
        // One RESCHEDULE IPI in flight per CPU: a pending one makes the CPU
        // pass through its loop (and recheck its queues) anyway.
        if !target.claim_resched() {
            return;
        }
        log::debug!(target: "SCHED", "send RESCHED IPI → core{cpu}");
        if let Err(error) = apic::send_ipi(target.apic_id(), vector::RESCHEDULE) {
            target.release_unsent_resched();
            // Waking must not panic (it runs in interrupt handlers). The
            // core's next timer tick wakes it anyway, 10 ms later.
            log::error!(target: "SCHED", "RESCHED IPI to core{cpu} failed: {error:?}");
        }
    }

    fn now_ns(&self) -> u64 {
        time::uptime_ns()
    }

    fn halt_if(&self, still_idle: &mut dyn FnMut() -> bool) {
        interrupts::disable();
        if still_idle() {
            // `sti` takes effect after the next instruction: no interrupt can
            // arrive between it and `hlt`, so a wake-up IPI sent after the
            // check above is either pending (and ends the `hlt` at once) or
            // arrives during it.
            let start = tsc::read();
            interrupts::enable_and_hlt();
            percpu::this_cpu().count_idle_cycles(tsc::read() - start);
        } else {
            interrupts::enable();
        }
    }

    fn without_interrupts<R>(&self, f: impl FnOnce() -> R) -> R {
        interrupts::without_interrupts(f)
    }

    /// Recorded in the CPU's block for panic and exception reports
    /// (`task=`, `percpu::report_context`): two stores per task picked.
    fn set_current_task(&self, task: Option<u64>) {
        percpu::this_cpu().set_current_task(task);
    }
}

mod tests {
    use alloc::boxed::Box;
    use alloc::format;
    use alloc::string::String;

    use executor::{Config, Executor, Priority};

    use super::KernelPlatform;
    use crate::arch::percpu;
    use crate::ktest::{check, kernel_test};

    kernel_test!(
        fn reports_name_the_task_the_cpu_polls() {
            let me = percpu::this_cpu().index();
            let platform = KernelPlatform::new(&[me]);
            // A one-core executor of its own (the scheduler's starts later),
            // leaked: the `'static` that spawning needs.
            let executor = Box::leak(Box::new(Executor::new(platform, 1, Config::default())));
            let mut handle = executor.spawn(Priority::Normal, async {
                let in_task = format!("{}", percpu::report_context());
                let in_handler = percpu::with_irqs_disabled(|this, irqs| {
                    this.enter_interrupt(irqs);
                    let line = format!("{}", percpu::report_context());
                    this.leave_interrupt(irqs);
                    line
                });
                (in_task, in_handler)
            });
            let id = handle.id();
            check!(executor.poll_one(), "the task was not polled");
            let Some(Ok((in_task, in_handler))) = handle.try_take() else {
                return Err(String::from("the task did not finish"));
            };
            let expected = format!("cpu={me} task={id}");
            check!(
                in_task == expected,
                "in the task: {in_task:?}, expected {expected:?}"
            );
            let expected = format!("cpu={me} task={id} in_interrupt=1");
            check!(
                in_handler == expected,
                "in a handler: {in_handler:?}, expected {expected:?}"
            );
            let after = format!("{}", percpu::report_context());
            check!(after == format!("cpu={me}"), "after the poll: {after:?}");
            Ok(())
        }
    );
}
