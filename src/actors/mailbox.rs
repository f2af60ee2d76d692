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

/// The answer of a read-only handler, given up when its asker has gone.
///
/// actix runs a [`ResponseFuture`] to its end on the arbiter even when the caller's
/// `send` was dropped (an HTTP client that disconnected): a list would still wait for a
/// database connection and run its query, for nobody. This answer stops waiting as soon
/// as the caller's end of the reply channel closes, and dropping the future drops its
/// [`Db::run`](crate::db::Db::run), which then never takes a connection. Only for
/// handlers that change nothing: a write stopped half-way would leave its work undone.
pub struct UntilAsked<I>(pub std::pin::Pin<Box<dyn std::future::Future<Output = I>>>);

impl<A, M> actix::dev::MessageResponse<A, M> for UntilAsked<M::Result>
where
    A: Actor,
    M: Message,
    M::Result: 'static,
{
    fn handle(self, _: &mut A::Context, tx: Option<actix::dev::OneshotSender<M::Result>>) {
        // `do_send` (no reply channel): nobody could read the answer.
        let Some(mut tx) = tx else { return };
        let mut work = self.0;
        actix_rt::spawn(async move {
            let answer = std::future::poll_fn(|cx| {
                if let std::task::Poll::Ready(v) = work.as_mut().poll(cx) {
                    return std::task::Poll::Ready(Some(v));
                }
                tx.poll_closed(cx).map(|()| None)
            })
            .await;
            if let Some(v) = answer {
                let _ = tx.send(v);
            }
        });
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

    /// Tells `started`, then waits for `go`.
    #[derive(Message)]
    #[rtype(result = "()")]
    struct Wait {
        started: tokio::sync::oneshot::Sender<()>,
        go: tokio::sync::oneshot::Receiver<()>,
    }

    impl Handler<Wait> for Slow {
        type Result = UntilAsked<()>;
        fn handle(&mut self, m: Wait, _: &mut Context<Self>) -> UntilAsked<()> {
            UntilAsked(Box::pin(async move {
                let _ = m.started.send(());
                let _ = m.go.await;
            }))
        }
    }

    #[actix_rt::test]
    async fn an_answer_nobody_waits_for_is_given_up() -> Result<(), Box<dyn std::error::Error>> {
        let addr = Slow.start();
        // An asker that stays gets its answer.
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let (go, go_rx) = tokio::sync::oneshot::channel();
        let asking = addr.send(Wait {
            started: started_tx,
            go: go_rx,
        });
        started.await?;
        go.send(()).map_err(|()| "the handler's work was dropped")?;
        asking.await?;
        // An asker that leaves while the work waits: the work is dropped (its end of
        // `go` closes) instead of running on for nobody.
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let (mut go, go_rx) = tokio::sync::oneshot::channel::<()>();
        let asking = addr.send(Wait {
            started: started_tx,
            go: go_rx,
        });
        started.await?;
        drop(asking);
        let dropped =
            actix_rt::time::timeout(std::time::Duration::from_secs(10), go.closed()).await;
        assert!(dropped.is_ok(), "the work outlived its asker");
        Ok(())
    }
}
