//! In-kernel tests of SMP: IPIs in both directions, broadcast, a lock hammered
//! by every CPU, and the "AP never answers" path. They need more than one CPU
//! to say anything; with one CPU they check what they can and pass.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use kernel::sync::{IrqSpinLock, LockRank, SpinLock};

use super::{RunOnError, online_cpus, run_on};
use crate::arch::x86_64::apic;
use crate::arch::x86_64::clock;
use crate::arch::x86_64::interrupts::vector;
use crate::arch::x86_64::percpu::{self, IdleCall};
use crate::ktest::{TestResult, check, kernel_test};

/// How long a test waits for other CPUs before calling it a failure.
const WAIT_US: u64 = 500_000;

fn received(index: u32) -> u64 {
    percpu::percpu_for(index).counters().ipi_received()
}

/// Spins until `done()` or [`WAIT_US`] passes; returns whether it got done.
fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let until = clock::uptime_ns() + WAIT_US * 1000;
    while clock::uptime_ns() < until {
        if done() {
            return true;
        }
        core::hint::spin_loop();
    }
    done()
}

/// Posts `call` to CPU `index`, waiting while an earlier call is still pending.
fn post(index: u32, call: &'static IdleCall) -> TestResult {
    let mut result = Err(RunOnError::Busy);
    wait_for(|| {
        result = run_on(index, call);
        result != Err(RunOnError::Busy)
    });
    result.map_err(|error| alloc::format!("run_on(cpu {index}) failed: {error:?}"))
}

fn other_cpus() -> Vec<u32> {
    let me = percpu::this_cpu().index();
    online_cpus().filter(|&index| index != me).collect()
}

/// Pings the boot CPU; a failure shows up as a missing receipt there.
static PING_BOOT_CPU: IdleCall = IdleCall::new(|| {
    let _ = apic::send_ipi(percpu::percpu_for(0).apic_id(), vector::PING);
});

kernel_test!(
    fn ipis_reach_every_ap_and_come_back() {
        let aps = other_cpus();
        for &ap in &aps {
            let before = received(ap);
            apic::send_ipi(percpu::percpu_for(ap).apic_id(), vector::PING)
                .map_err(|error| alloc::format!("IPI to cpu {ap} failed: {error:?}"))?;
            check!(
                wait_for(|| received(ap) == before + 1),
                "cpu {ap} did not receive the BSP's IPI"
            );
        }
        // Each AP sends one IPI back (woken by the IPI `run_on` sends it), one AP
        // at a time: fixed IPIs of one vector that arrive while an earlier one is
        // still pending merge into one (the IRR has one bit per vector, SDM Vol. 3A
        // §11.8.4), so concurrent senders could not be counted exactly.
        for &ap in &aps {
            let before = received(0);
            post(ap, &PING_BOOT_CPU)?;
            check!(
                wait_for(|| received(0) == before + 1),
                "BSP did not receive the IPI of cpu {ap} (got {})",
                received(0) - before
            );
        }
        Ok(())
    }
);

kernel_test!(
    fn broadcast_reaches_every_other_cpu_exactly_once() {
        let me = percpu::this_cpu().index();
        let cpus: Vec<u32> = online_cpus().collect();
        let before: Vec<u64> = cpus.iter().map(|&c| received(c)).collect();
        let sent = apic::broadcast_ipi(vector::PING, true)
            .map_err(|error| alloc::format!("broadcast failed: {error:?}"))?;
        check!(
            sent as usize == cpus.len() - 1,
            "broadcast sent {sent} IPIs for {} other CPUs",
            cpus.len() - 1
        );
        let all_arrived = || {
            cpus.iter()
                .zip(&before)
                .all(|(&c, &b)| c == me || received(c) > b)
        };
        check!(
            wait_for(all_arrived),
            "not every CPU received the broadcast"
        );
        clock::delay_us(10_000); // let any duplicate arrive before counting
        for (&cpu, &b) in cpus.iter().zip(&before) {
            let got = received(cpu) - b;
            let want = u64::from(cpu != me);
            check!(
                got == want,
                "cpu {cpu} received the broadcast {got} times, expected {want}"
            );
        }
        Ok(())
    }
);

/// Increments per CPU in the lock test.
const INCREMENTS: u64 = 20_000;
static COUNTER: SpinLock<u64> = SpinLock::new(LockRank::IPC, 0);
static FINISHED: AtomicU32 = AtomicU32::new(0);

fn hammer_counter() {
    for _ in 0..INCREMENTS {
        *COUNTER.lock() += 1;
    }
    FINISHED.fetch_add(1, Ordering::AcqRel);
}
static HAMMER_COUNTER: IdleCall = IdleCall::new(hammer_counter);

kernel_test!(
    fn spinlock_counter_is_exact_across_all_cpus() {
        *COUNTER.lock() = 0;
        FINISHED.store(0, Ordering::Release);
        let aps = other_cpus();
        for &ap in &aps {
            post(ap, &HAMMER_COUNTER)?;
        }
        hammer_counter();
        let cpus = aps.len() as u32 + 1;
        check!(
            wait_for(|| FINISHED.load(Ordering::Acquire) == cpus),
            "only {} of {cpus} CPUs finished",
            FINISHED.load(Ordering::Acquire)
        );
        let total = *COUNTER.lock();
        let expected = u64::from(cpus) * INCREMENTS;
        check!(
            total == expected,
            "counter {total}, expected {cpus} CPUs x {INCREMENTS} = {expected}"
        );
        Ok(())
    }
);

kernel_test!(
    fn irq_spinlock_restores_the_interrupt_flag() {
        use x86_64::instructions::interrupts;
        let lock = IrqSpinLock::new(LockRank::new(28), 0u32);
        let was_enabled = interrupts::are_enabled();
        for start_enabled in [true, false] {
            if start_enabled {
                interrupts::enable();
            } else {
                interrupts::disable();
            }
            {
                let mut guard = lock.lock();
                *guard += 1;
                check!(
                    !interrupts::are_enabled(),
                    "interrupts enabled while holding an IrqSpinLock"
                );
            }
            let now = interrupts::are_enabled();
            check!(
                now == start_enabled,
                "IF was {start_enabled} before the lock, {now} after"
            );
        }
        if was_enabled {
            interrupts::enable();
        } else {
            interrupts::disable();
        }
        Ok(())
    }
);

kernel_test!(manual fn fake_ap_timed_out_and_boot_went_on() {
    let failures = super::bring_up_failures();
    let fake = failures.iter().find(|f| f.apic_id == super::FAKE_AP_MARKER.load(Ordering::Relaxed));
    let Some(fake) = fake else {
        return Err(alloc::format!("no failure recorded for the fake AP; failures: {failures:?}"));
    };
    check!(fake.stage == 0, "the fake AP reached stage {}: something answered", fake.stage);
    let expected = super::expected_real_cpus();
    let online = online_cpus().count() as u32;
    check!(online == expected, "{online} CPUs online, expected all {expected} real ones");
    Ok(())
});
