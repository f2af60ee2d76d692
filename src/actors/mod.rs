//! The actors and their typed messages: `ApiActor` (fed by the HTTP layer),
//! `SchedulerActor`, one `VolumeActor` per storage node, and `JournalActor`.

#[cfg(test)]
/// Node messages the fakes of these tests accept and ignore.
macro_rules! ignore_node_messages {
    ($actor:ty) => {
        impl Handler<crate::actors::protocol::ExtendVolumeOnNode> for $actor {
            type Result = ();
            fn handle(
                &mut self,
                _: crate::actors::protocol::ExtendVolumeOnNode,
                _: &mut Self::Context,
            ) {
            }
        }
        impl Handler<crate::actors::protocol::CreateSnapshotOnNode> for $actor {
            type Result = ();
            fn handle(
                &mut self,
                _: crate::actors::protocol::CreateSnapshotOnNode,
                _: &mut Self::Context,
            ) {
            }
        }
        impl Handler<crate::actors::protocol::DeleteSnapshotOnNode> for $actor {
            type Result = ();
            fn handle(
                &mut self,
                _: crate::actors::protocol::DeleteSnapshotOnNode,
                _: &mut Self::Context,
            ) {
            }
        }
        impl Handler<crate::actors::protocol::RevertVolumeOnNode> for $actor {
            type Result = ();
            fn handle(
                &mut self,
                _: crate::actors::protocol::RevertVolumeOnNode,
                _: &mut Self::Context,
            ) {
            }
        }
        impl Handler<crate::actors::protocol::InitializeConnection> for $actor {
            type Result =
                Result<crate::drivers::ConnectionInfo, crate::actors::error::ServiceError>;
            fn handle(
                &mut self,
                _: crate::actors::protocol::InitializeConnection,
                _: &mut Self::Context,
            ) -> Self::Result {
                Err(crate::actors::error::ServiceError::Unavailable(
                    "fake node".into(),
                ))
            }
        }
        impl Handler<crate::actors::protocol::TerminateConnection> for $actor {
            type Result = Result<(), crate::actors::error::ServiceError>;
            fn handle(
                &mut self,
                _: crate::actors::protocol::TerminateConnection,
                _: &mut Self::Context,
            ) -> Self::Result {
                Ok(())
            }
        }
    };
}

pub mod api;
pub mod dispatch;
pub mod error;
pub mod journal;
#[cfg(test)]
mod layering_tests;
pub mod mailbox;
pub mod protocol;
pub mod scheduler;
pub mod user_messages;
pub mod volume;
