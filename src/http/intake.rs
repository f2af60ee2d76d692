//! How request bodies come in: within a deadline, and within a memory budget shared by
//! every request.
//!
//! actix bounds the request head (`client_request_timeout`) but not the body: a client
//! that declares 1 MiB, sends all but a few bytes and stalls keeps its connection, and the
//! handler keeps what it buffered, for as long as it likes. Three hundred of them held
//! half a gigabyte. So the middleware [`guard`] wraps every request's payload: the body
//! must arrive within `body_timeout_seconds` (else 408, and actix closes the connection,
//! the body being unread), and the bytes of all bodies being read at once stay under
//! `max_buffered_body_bytes` (else 503). Every reader of the body (the JSON extractor,
//! the idempotency middleware) reads through it, so none can forget.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use futures_util::Stream;

use super::AppState;
use super::error::ApiError;

/// The deadline and the shared budget.
#[derive(Debug, Clone)]
pub struct Intake {
    timeout: Duration,
    budget: Arc<Budget>,
}

impl Intake {
    /// Bodies must arrive within `timeout`; at most `max_bytes` of them are held at once.
    pub fn new(timeout: Duration, max_bytes: usize) -> Self {
        Self {
            timeout,
            budget: Arc::new(Budget {
                max: max_bytes,
                held: AtomicUsize::new(0),
            }),
        }
    }

    /// Bytes of bodies held now (read through [`guard`] by requests still running).
    pub fn held(&self) -> usize {
        self.budget.held.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct Budget {
    max: usize,
    held: AtomicUsize,
}

impl Budget {
    fn take(&self, n: usize) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(n).filter(|total| *total <= self.max)
            })
            .is_ok()
    }

    fn give_back(&self, n: usize) {
        self.held.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Why the guarded payload stopped: carried inside the `PayloadError` so that readers can
/// answer with the right status ([`refusal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Stopped {
    /// The body did not arrive in time.
    #[error("the request body did not arrive within the body timeout")]
    TimedOut,
    /// Bodies being read hold the whole budget.
    #[error("request bodies in memory are at max_buffered_body_bytes")]
    Busy,
}

/// What a reader of the body answers when the payload fails.
pub fn refusal(e: PayloadError) -> ApiError {
    let stopped = match &e {
        PayloadError::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<Stopped>()),
        _ => None,
    };
    match stopped {
        Some(Stopped::TimedOut) => {
            ApiError::RequestTimeout("The request body was not received in time.".into())
        }
        Some(Stopped::Busy) => ApiError::Unavailable(Stopped::Busy.to_string()),
        None => ApiError::BadRequest(format!("Could not read body: {e}")),
    }
}

/// Wraps the request's payload in the deadline and the budget.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(intake) = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.intake.clone())
    {
        let inner = req.take_payload();
        // Most requests (GETs, DELETEs) carry no body: no deadline, no box, nothing held.
        if matches!(inner, Payload::None) {
            req.set_payload(inner);
            return next.call(req).await;
        }
        let guarded = Guarded {
            inner,
            deadline: Box::pin(actix_web::rt::time::sleep(intake.timeout)),
            budget: intake.budget,
            held: 0,
            stopped: false,
        };
        let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(guarded);
        req.set_payload(Payload::from(boxed));
    }
    next.call(req).await
}

/// A payload with a deadline, counting what it hands out against the budget until it is
/// dropped (which is when its reader is done with the body).
struct Guarded {
    inner: Payload,
    deadline: Pin<Box<actix_web::rt::time::Sleep>>,
    budget: Arc<Budget>,
    held: usize,
    stopped: bool,
}

impl Guarded {
    fn stop(&mut self, why: Stopped) -> Poll<Option<Result<Bytes, PayloadError>>> {
        self.stopped = true;
        Poll::Ready(Some(Err(PayloadError::Io(io::Error::other(why)))))
    }
}

impl Stream for Guarded {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.stopped {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if !this.budget.take(chunk.len()) {
                    return this.stop(Stopped::Busy);
                }
                this.held += chunk.len();
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => this.stop(Stopped::TimedOut),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.budget.give_back(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::Budget;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn the_budget_refuses_past_its_maximum_and_takes_back() {
        let b = Budget {
            max: 10,
            held: AtomicUsize::new(0),
        };
        assert!(b.take(6));
        assert!(!b.take(5));
        assert!(b.take(4));
        assert!(!b.take(1));
        b.give_back(6);
        assert!(b.take(6));
        assert!(!b.take(usize::MAX));
    }
}
