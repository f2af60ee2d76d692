//! The actors and their typed messages: `ApiActor` (fed by the HTTP layer),
//! `SchedulerActor`, one `VolumeActor` per storage node, and `JournalActor`.

#[cfg(test)]
/// Node messages the fakes of these tests accept and ignore.
macro_rules! ignore_node_messages {
    ($actor:ty) => {
        impl Handler<crate::actors::volume::ExtendVolumeOnNode> for $actor {
            type Result = ();
            fn handle(
                &mut self,
                _: crate::actors::volume::ExtendVolumeOnNode,
                _: &mut Self::Context,
            ) {
            }
        }
        impl Handler<crate::actors::volume::CreateSnapshotOnNode> for $actor {
            type Result = ();
            fn handle(
                &mut self,
                _: crate::actors::volume::CreateSnapshotOnNode,
                _: &mut Self::Context,
            ) {
            }
        }
        impl Handler<crate::actors::volume::DeleteSnapshotOnNode> for $actor {
            type Result = ();
            fn handle(
                &mut self,
                _: crate::actors::volume::DeleteSnapshotOnNode,
                _: &mut Self::Context,
            ) {
            }
        }
        impl Handler<crate::actors::volume::RevertVolumeOnNode> for $actor {
            type Result = ();
            fn handle(
                &mut self,
                _: crate::actors::volume::RevertVolumeOnNode,
                _: &mut Self::Context,
            ) {
            }
        }
        impl Handler<crate::actors::volume::InitializeConnection> for $actor {
            type Result =
                Result<crate::drivers::ConnectionInfo, crate::actors::error::ServiceError>;
            fn handle(
                &mut self,
                _: crate::actors::volume::InitializeConnection,
                _: &mut Self::Context,
            ) -> Self::Result {
                Err(crate::actors::error::ServiceError::Unavailable(
                    "fake node".into(),
                ))
            }
        }
        impl Handler<crate::actors::volume::TerminateConnection> for $actor {
            type Result = Result<(), crate::actors::error::ServiceError>;
            fn handle(
                &mut self,
                _: crate::actors::volume::TerminateConnection,
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
pub mod mailbox;
pub mod scheduler;
pub mod user_messages;
pub mod volume;
