//! The log: `tracing` set up once by `main`, and the text format's field writer.
//!
//! Request data reaches the log in field values: paths and queries in the request span,
//! and whatever an error message echoes (a key, a value, a sort key) in the line that
//! records a refused request. A raw newline there forges a log line, an escape sequence
//! rewrites the operator's terminal, and a 1 MiB value writes a megabyte per request. So
//! every field value of the text format goes through [`Clipped`], which escapes control
//! characters and cuts the value at [`MAX_FIELD_CHARS`]. The JSON format escapes by itself;
//! the values that can be large are clipped where they are logged: a refused request's
//! message in `http::error`, and the error a request ended with in [`RequestSpan`].

use std::fmt::{self, Write as _};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing::field::{Field, Visit};
use tracing_actix_web::RootSpanBuilder;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

use crate::config::LogFormat;
use crate::http::error::ApiError;

/// Characters of one field value written before it is cut.
pub const MAX_FIELD_CHARS: usize = 256;

/// Installs the process's subscriber: `RUST_LOG` (default `info`) to stderr, as text with
/// [`SafeFields`] or as JSON.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.fmt_fields(SafeFields).init(),
    }
}

/// The request's span, as tracing-actix-web builds it, but ended without its default
/// error reporting: that records the error's text twice on the span (`Display` and
/// `Debug`) and logs it again in an event, unclipped, so a refused 1 MiB value wrote 10
/// MB of JSON log. An [`ApiError`] has logged itself, clipped, in `error_response`; any
/// other error (actix's own) is logged here once, clipped.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        tracing_actix_web::root_span!(request)
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let (status, error) = match outcome {
            Ok(res) => (res.status(), res.response().error()),
            Err(e) => (e.as_response_error().status_code(), Some(e)),
        };
        span.record("http.status_code", i64::from(status.as_u16()));
        span.record(
            "otel.status_code",
            if status.is_server_error() {
                "ERROR"
            } else {
                "OK"
            },
        );
        if let Some(e) = error {
            let text = e.to_string();
            span.record("exception.message", tracing::field::display(Clipped(&text)));
            if e.as_error::<ApiError>().is_none() {
                let _entered = span.enter();
                tracing::warn!(status = status.as_u16(), error = %Clipped(&text), "request failed in actix");
            }
        }
    }
}

/// The text format's field writer: `name=value` pairs separated by spaces, the message
/// bare, as tracing's default, but each value [`Clipped`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SafeFields;

impl<'w> FormatFields<'w> for SafeFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = SafeVisitor {
            writer,
            result: Ok(()),
            first: true,
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct SafeVisitor<'w> {
    writer: Writer<'w>,
    result: fmt::Result,
    first: bool,
}

impl Visit for SafeVisitor<'_> {
    // `record_str` and `record_error` default to this, with the value quoted
    // (`Debug` of a `str`) or shown (`Display` of an error) as tracing's default does.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `log.*` fields carry a `log` record's metadata, already shown.
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        let text = format!("{value:?}");
        let sep = if self.first { "" } else { " " };
        self.first = false;
        self.result = if field.name() == "message" {
            write!(self.writer, "{sep}{}", Clipped(&text))
        } else {
            write!(self.writer, "{sep}{}={}", field.name(), Clipped(&text))
        };
    }
}

/// A value made safe for one log line: control characters (C0, DEL, C1, and the Unicode
/// line and paragraph separators) written as escapes (`\n`, `\x1b`, `\u{85}`), and the
/// value cut after [`MAX_FIELD_CHARS`] characters with `…(N bytes)` giving its full size.
#[derive(Debug, Clone, Copy)]
pub struct Clipped<'a>(pub &'a str);

impl fmt::Display for Clipped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, ch) in self.0.chars().enumerate() {
            if i == MAX_FIELD_CHARS {
                return write!(f, "…({} bytes)", self.0.len());
            }
            match ch {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\0' => f.write_str("\\0")?,
                c if c.is_ascii_control() => write!(f, "\\x{:02x}", c as u32)?,
                c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                    write!(f, "\\u{{{:x}}}", c as u32)?
                }
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::{Clipped, MAX_FIELD_CHARS, SafeFields};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Every control character, and both Unicode separators.
    fn hostile() -> String {
        let mut s: String = (0u32..0x20)
            .chain(0x7f..=0x9f)
            .filter_map(char::from_u32)
            .collect();
        s.push_str("\u{2028}\u{2029}\u{1b}[2J forged line");
        s
    }

    #[test]
    fn text_log_lines_carry_no_raw_control_characters() -> Result<(), Box<dyn std::error::Error>> {
        let out = Capture::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(SafeFields)
            .finish();
        let bad = hostile();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", http.target = %bad);
            let _entered = span.enter();
            tracing::info!(message = %bad, "refused");
            tracing::info!(key = bad.as_str(), value = ?bad, shown = %bad, "{bad}");
            tracing::warn!("{}", bad);
        });
        let bytes = out.0.lock().map_err(|_| "poisoned")?.clone();
        let text = String::from_utf8(bytes)?;
        assert_eq!(text.matches('\n').count(), 3, "{text}");
        for line in text.lines() {
            assert!(
                !line
                    .chars()
                    .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}'),
                "raw control character in {line:?}"
            );
            assert!(line.contains("forged line"), "{line}");
        }
        Ok(())
    }

    #[test]
    fn long_values_are_cut_with_their_size() {
        let big = "x".repeat(1 << 20);
        let shown = Clipped(&big).to_string();
        assert_eq!(
            shown,
            format!("{}…({} bytes)", "x".repeat(MAX_FIELD_CHARS), 1 << 20)
        );
        let short = "é".repeat(MAX_FIELD_CHARS);
        assert_eq!(Clipped(&short).to_string(), short);
        assert_eq!(
            Clipped("a\nb\u{1b}c\u{85}").to_string(),
            "a\\nb\\x1bc\\u{85}"
        );
    }
}
