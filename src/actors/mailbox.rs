//! Mailbox depth: how many messages wait for an actor (or are being handled by it).
//!
//! actix 0.13 keeps the length of an `Addr`'s queue private, so the depth is counted on
//! the sending side instead: [`Tracked`] wraps an address, and its `send` adds one to the
//! actor's gauge until the answer arrives (or the caller gives up). Everything else of the
//! address (`do_send`, `recipient`, ...) is reached through `Deref` and is not counted.

use std::ops::Deref;

use actix::dev::ToEnvelope;
use actix::prelude::*;
use metrics::Gauge;

use crate::telemetry::ACTOR_MAILBOX_DEPTH;

/// An address whose `send` is counted in `clinker_actor_mailbox_depth{actor}`.
#[derive(Clone)]
pub struct Tracked<T> {
    inner: T,
    depth: Gauge,
}

impl<T> std::fmt::Debug for Tracked<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracked").finish_non_exhaustive()
    }
}

impl<T> Tracked<T> {
    /// Wraps `inner`, counting under the label `actor` (`api`, `scheduler`,
    /// `volume:<node>`). Take it after the metrics recorder is installed, or the gauge
    /// records nothing.
    pub fn new(inner: T, actor: impl Into<String>) -> Self {
        let depth = metrics::gauge!(ACTOR_MAILBOX_DEPTH, "actor" => actor.into());
        Self { inner, depth }
    }

    /// The wrapped address.
    pub fn inner(&self) -> &T {
        &self.inner
    }
}

impl<T> Deref for Tracked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

/// One message in flight: counted while it lives, so a cancelled wait counts down too.
struct InFlight<'a>(&'a Gauge);

impl<'a> InFlight<'a> {
    fn new(g: &'a Gauge) -> Self {
        g.increment(1.0);
        Self(g)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

impl<A: Actor> Tracked<Addr<A>> {
    /// `Addr::send`, counted.
    pub async fn send<M>(&self, msg: M) -> Result<M::Result, MailboxError>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        A: Handler<M>,
        A::Context: ToEnvelope<A, M>,
    {
        let _counted = InFlight::new(&self.depth);
        self.inner.send(msg).await
    }
}

impl<M> Tracked<Recipient<M>>
where
    M: Message + Send,
    M::Result: Send,
{
    /// `Recipient::send`, counted.
    pub async fn send(&self, msg: M) -> Result<M::Result, MailboxError> {
        let _counted = InFlight::new(&self.depth);
        self.inner.send(msg).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Slow;
    impl Actor for Slow {
        type Context = Context<Self>;
    }

    #[derive(Message)]
    #[rtype(result = "u32")]
    struct Echo(u32);

    impl Handler<Echo> for Slow {
        type Result = u32;
        fn handle(&mut self, m: Echo, _: &mut Context<Self>) -> u32 {
            m.0
        }
    }

    #[actix_rt::test]
    async fn a_tracked_send_answers_like_the_address() -> Result<(), MailboxError> {
        let addr = Tracked::new(Slow.start(), "test");
        assert_eq!(addr.send(Echo(7)).await?, 7);
        let recipient = Tracked::new(addr.inner().clone().recipient::<Echo>(), "test");
        assert_eq!(recipient.send(Echo(9)).await?, 9);
        Ok(())
    }
}
