//! Bounded work: at most a configured number of work items of each [`WorkClass`] run at once in
//! this process; the rest wait in a first-come-first-served queue whose positions the
//! controllers show in status (condition reason `Queued`) and the metrics count
//! (`tollgate_operator_work_queued{kind}`, `tollgate_operator_work_running{kind}`).
//!
//! Why: the in-process executor runs `pg_dump`/`pg_restore` as children of the operator, inside
//! the operator pod's memory limit. Several BackupPolicies on one schedule would otherwise start
//! as many dumps at once and could get the leader OOM-killed. The pod's memory limit is sized
//! from these limits (docs/operator.md: base + limit × per-work peak). The Job executor is
//! bounded the same way, which bounds how many worker pods run at once.
//!
//! Plans and retention runs are not limited: they read a history table or a store listing and
//! hold no dump in flight.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::Work;
use crate::metrics::Metrics;

/// A kind of work with its own concurrency limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkClass {
    /// `Work::Backup` (pg_dump streamed into the store).
    Backup,
    /// `Work::Verify` and `Work::Restore` (pg_restore, scratch databases).
    RestoreVerify,
    /// `Work::Migrate`.
    Migration,
}

impl WorkClass {
    /// Every class, in a fixed order.
    pub const ALL: [WorkClass; 3] =
        [WorkClass::Backup, WorkClass::RestoreVerify, WorkClass::Migration];

    /// The class that limits `work`; `None` for unlimited work (plans, retention).
    pub fn of(work: &Work) -> Option<WorkClass> {
        match work {
            Work::Backup { .. } => Some(WorkClass::Backup),
            Work::Verify { .. } | Work::Restore { .. } => Some(WorkClass::RestoreVerify),
            Work::Migrate { .. } => Some(WorkClass::Migration),
            Work::Plan { .. } | Work::Retention { .. } => None,
        }
    }

    /// `backup`, `restore-verify` or `migration` (the metrics' `kind` label, messages).
    pub fn as_str(self) -> &'static str {
        match self {
            WorkClass::Backup => "backup",
            WorkClass::RestoreVerify => "restore-verify",
            WorkClass::Migration => "migration",
        }
    }

    fn index(self) -> usize {
        match self {
            WorkClass::Backup => 0,
            WorkClass::RestoreVerify => 1,
            WorkClass::Migration => 2,
        }
    }
}

/// How many work items of each class may run at once (each at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Concurrent backups (`--max-concurrent-backups`).
    pub backups: usize,
    /// Concurrent verifications and restores (`--max-concurrent-restores`).
    pub restore_verify: usize,
    /// Concurrent migrations (`--max-concurrent-migrations`).
    pub migrations: usize,
}

/// Default concurrent backups: the deployment's memory limit is sized for this many
/// (`tollgate_operator_api::manifests::memory_limit_mib`).
pub const DEFAULT_MAX_BACKUPS: usize = tollgate_operator_api::manifests::DEFAULT_MAX_BACKUPS;
/// Default concurrent verifications and restores (also in the memory budget).
pub const DEFAULT_MAX_RESTORES: usize = tollgate_operator_api::manifests::DEFAULT_MAX_RESTORES;
/// Default concurrent migrations.
pub const DEFAULT_MAX_MIGRATIONS: usize = tollgate_operator_api::manifests::DEFAULT_MAX_MIGRATIONS;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            backups: DEFAULT_MAX_BACKUPS,
            restore_verify: DEFAULT_MAX_RESTORES,
            migrations: DEFAULT_MAX_MIGRATIONS,
        }
    }
}

impl Limits {
    /// The limit of `class` (at least 1).
    pub fn of(&self, class: WorkClass) -> usize {
        match class {
            WorkClass::Backup => self.backups,
            WorkClass::RestoreVerify => self.restore_verify,
            WorkClass::Migration => self.migrations,
        }
        .max(1)
    }
}

#[derive(Debug, Default)]
struct LaneState {
    running: usize,
    waiting: VecDeque<u64>,
    next_ticket: u64,
}

#[derive(Debug)]
struct Lane {
    limit: usize,
    state: Mutex<LaneState>,
    changed: Notify,
}

/// The queues of one operator process (shared through the
/// [`Context`](crate::context::Context)).
#[derive(Debug)]
pub struct WorkLimits {
    lanes: [Lane; 3],
    metrics: Arc<Metrics>,
}

/// Where a waiting work item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePosition {
    /// 1 for the next to run.
    pub position: usize,
    /// How many wait in all.
    pub queued: usize,
    /// How many run now.
    pub running: usize,
    /// The class's limit.
    pub limit: usize,
}

impl QueuePosition {
    /// `position 2 of 3 in the backup queue (2 of 2 running)`.
    pub fn describe(&self, class: WorkClass) -> String {
        format!(
            "position {} of {} in the {} queue ({} of {} running)",
            self.position,
            self.queued,
            class.as_str(),
            self.running,
            self.limit
        )
    }
}

impl WorkLimits {
    /// Queues with these limits, reporting to `metrics`.
    pub fn new(limits: Limits, metrics: Arc<Metrics>) -> WorkLimits {
        let lane = |class| Lane {
            limit: limits.of(class),
            state: Mutex::new(LaneState::default()),
            changed: Notify::new(),
        };
        let this = WorkLimits {
            lanes: [
                lane(WorkClass::Backup),
                lane(WorkClass::RestoreVerify),
                lane(WorkClass::Migration),
            ],
            metrics,
        };
        for class in WorkClass::ALL {
            this.metrics.set_work(class.as_str(), 0, 0);
        }
        this
    }

    fn lane(&self, class: WorkClass) -> &Lane {
        &self.lanes[class.index()]
    }

    fn lock(&self, class: WorkClass) -> std::sync::MutexGuard<'_, LaneState> {
        self.lane(class).state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn publish(&self, class: WorkClass, state: &LaneState) {
        self.metrics.set_work(class.as_str(), state.waiting.len(), state.running);
    }

    /// The limit of `class`.
    pub fn limit(&self, class: WorkClass) -> usize {
        self.lane(class).limit
    }

    /// `(queued, running)` of `class` now.
    pub fn load(&self, class: WorkClass) -> (usize, usize) {
        let state = self.lock(class);
        (state.waiting.len(), state.running)
    }

    /// Joins the end of the queue of `class`. The [`Ticket`] leaves the queue when dropped.
    pub fn enter(self: &Arc<Self>, class: WorkClass) -> Ticket {
        let mut state = self.lock(class);
        let id = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push_back(id);
        self.publish(class, &state);
        drop(state);
        Ticket { limits: self.clone(), class, id, admitted: false }
    }
}

/// A place in a queue. [`Ticket::admit`] waits for a [`Slot`]; dropping a ticket that was not
/// admitted leaves the queue (the ones behind it move up).
#[derive(Debug)]
pub struct Ticket {
    limits: Arc<WorkLimits>,
    class: WorkClass,
    id: u64,
    admitted: bool,
}

impl Ticket {
    /// The class queued for.
    pub fn class(&self) -> WorkClass {
        self.class
    }

    /// Where this ticket stands; `None` once admitted.
    pub fn position(&self) -> Option<QueuePosition> {
        let state = self.limits.lock(self.class);
        let index = state.waiting.iter().position(|t| *t == self.id)?;
        Some(QueuePosition {
            position: index + 1,
            queued: state.waiting.len(),
            running: state.running,
            limit: self.limits.limit(self.class),
        })
    }

    fn try_admit(&mut self) -> Option<Slot> {
        let mut state = self.limits.lock(self.class);
        let first = state.waiting.front() == Some(&self.id);
        if !first || state.running >= self.limits.limit(self.class) {
            return None;
        }
        state.waiting.pop_front();
        state.running += 1;
        self.limits.publish(self.class, &state);
        drop(state);
        self.admitted = true;
        // The next in line may fit too (a limit above 1).
        self.limits.lane(self.class).changed.notify_waiters();
        Some(Slot { limits: self.limits.clone(), class: self.class })
    }

    /// Waits until this ticket is first in line and a slot is free, then takes the slot.
    /// Cancel-safe: dropping the future before it resolves keeps the ticket's place.
    pub async fn admit(&mut self) -> Slot {
        let limits = self.limits.clone();
        loop {
            let notified = limits.lane(self.class).changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(slot) = self.try_admit() {
                return slot;
            }
            notified.await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.admitted {
            return;
        }
        let mut state = self.limits.lock(self.class);
        state.waiting.retain(|t| *t != self.id);
        self.limits.publish(self.class, &state);
        drop(state);
        self.limits.lane(self.class).changed.notify_waiters();
    }
}

/// A running slot of a class; dropping it frees the slot for the next in line.
#[derive(Debug)]
pub struct Slot {
    limits: Arc<WorkLimits>,
    class: WorkClass,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.limits.lock(self.class);
        state.running = state.running.saturating_sub(1);
        self.limits.publish(self.class, &state);
        drop(state);
        self.limits.lane(self.class).changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits(backups: usize) -> Arc<WorkLimits> {
        let l = Limits { backups, ..Limits::default() };
        Arc::new(WorkLimits::new(l, Arc::new(Metrics::new())))
    }

    #[test]
    fn classes_cover_the_heavy_work_only() {
        let store = super::super::StoreTarget { url: "file:///x".into(), credentials: None };
        let backup = Work::Backup { database_url: "u".into(), store, recipients: vec![] };
        assert_eq!(WorkClass::of(&backup), Some(WorkClass::Backup));
        let plan = Work::Plan {
            database_url: "u".into(),
            source: super::super::MigrationSource::Files {
                origin: "o".into(),
                files: Default::default(),
            },
        };
        assert_eq!(WorkClass::of(&plan), None);
        assert_eq!(Limits { backups: 0, ..Limits::default() }.of(WorkClass::Backup), 1);
    }

    #[tokio::test]
    async fn at_most_the_limit_runs_and_the_rest_wait_in_order() {
        let limits = limits(2);
        let mut tickets: Vec<Ticket> = (0..4).map(|_| limits.enter(WorkClass::Backup)).collect();
        let positions: Vec<usize> =
            tickets.iter().map(|t| t.position().unwrap().position).collect();
        assert_eq!(positions, [1, 2, 3, 4]);
        let a = tickets[0].admit().await;
        let _b = tickets[1].admit().await;
        assert_eq!(limits.load(WorkClass::Backup), (2, 2));
        assert_eq!(tickets[0].position(), None, "admitted");
        let third = tickets[2].position().unwrap();
        assert_eq!((third.position, third.queued, third.running, third.limit), (1, 2, 2, 2));
        assert_eq!(
            third.describe(WorkClass::Backup),
            "position 1 of 2 in the backup queue (2 of 2 running)"
        );
        // The fourth cannot pass the third, and the third waits for a free slot.
        let blocked = tokio::time::timeout(Duration::from_millis(50), tickets[3].admit()).await;
        assert!(blocked.is_err(), "the fourth waits behind the third");
        let blocked = tokio::time::timeout(Duration::from_millis(50), tickets[2].admit()).await;
        assert!(blocked.is_err(), "no slot is free");
        drop(a);
        let _c = tokio::time::timeout(Duration::from_secs(5), tickets[2].admit())
            .await
            .expect("a freed slot admits the next in line");
        assert_eq!(limits.load(WorkClass::Backup), (1, 2));
        // Other classes are not affected.
        let mut migration = limits.enter(WorkClass::Migration);
        let _running =
            tokio::time::timeout(Duration::from_secs(5), migration.admit()).await.expect("free");
        // A ticket that gives up leaves the queue.
        let last = tickets.pop().unwrap();
        drop(last);
        assert_eq!(limits.load(WorkClass::Backup), (0, 2));
        let text = limits.metrics.render();
        assert!(text.contains("tollgate_operator_work_running{kind=\"backup\"} 2"), "{text}");
        assert!(text.contains("tollgate_operator_work_queued{kind=\"backup\"} 0"), "{text}");
        assert!(text.contains("tollgate_operator_work_running{kind=\"migration\"} 1"), "{text}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_work_never_exceeds_the_limit() {
        let limits = limits(2);
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (limits, running, peak) = (limits.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    let mut ticket = limits.enter(WorkClass::Backup);
                    let _slot = ticket.admit().await;
                    let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(limits.load(WorkClass::Backup), (0, 0));
    }
}
