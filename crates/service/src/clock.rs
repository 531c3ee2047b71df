//! The source of time. Every timestamp the service writes comes from one [`Clock`], so tests can control it.

use roster_domain::Timestamp;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(time::OffsetDateTime::now_utc())
    }
}

/// A clock that tests move by hand; it starts at the system time.
#[derive(Debug)]
pub struct ManualClock {
    micros: AtomicI64,
}

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self { micros: AtomicI64::new(SystemClock.now().unix_micros()) })
    }

    pub fn advance(&self, duration: std::time::Duration) {
        let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        self.micros.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        let micros = self.micros.load(Ordering::SeqCst);
        Timestamp::from_unix_micros(micros).unwrap_or_else(|| SystemClock.now())
    }
}

/// The system clock shifted by a fixed offset. The binary builds one only in debug builds, from
/// `ROSTER_TEST_CLOCK_OFFSET_SECS`, so tests with several server processes can put them all in the future.
#[derive(Debug)]
pub struct OffsetClock {
    offset_micros: i64,
}

impl OffsetClock {
    pub fn new(offset: time::Duration) -> Self {
        Self { offset_micros: i64::try_from(offset.whole_microseconds()).unwrap_or(0) }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> Timestamp {
        let micros = SystemClock.now().unix_micros().saturating_add(self.offset_micros);
        Timestamp::from_unix_micros(micros).unwrap_or_else(|| SystemClock.now())
    }
}
