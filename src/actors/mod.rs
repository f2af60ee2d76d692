//! The actors and their typed messages: `ApiActor` (fed by the HTTP layer),
//! `SchedulerActor`, one `VolumeActor` per storage node, and `JournalActor`.

pub mod api;
pub mod dispatch;
pub mod error;
pub mod journal;
pub mod scheduler;
pub mod user_messages;
pub mod volume;
