//! How log events' fields are written: like tracing's default (`message`, then
//! `name=value` pairs), with every known secret replaced in each value as it is
//! formatted (see `secret::redact`). A log message can quote a server's answer,
//! which can quote a request; redacting the finished line instead would also
//! rewrite guacsync's own text around it (a password `2026` turned every
//! timestamp into `(sensitive)-12-05...`).

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;

use crate::secret::redact;

/// The field formatter installed by `init_logging`.
pub struct RedactingFields;

impl<'w> MakeVisitor<Writer<'w>> for RedactingFields {
    type Visitor = FieldWriter<'w>;

    fn make_visitor(&self, writer: Writer<'w>) -> Self::Visitor {
        FieldWriter {
            writer,
            first: true,
            result: Ok(()),
        }
    }
}

/// Writes one event's fields.
pub struct FieldWriter<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl FieldWriter<'_> {
    fn put(&mut self, field: &Field, shown: &str) {
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        let sep = if self.first { "" } else { " " };
        self.first = false;
        self.result = if field.name() == "message" {
            write!(self.writer, "{sep}{shown}")
        } else {
            write!(self.writer, "{sep}{}={shown}", field.name())
        };
    }
}

impl Visit for FieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let clean = redact(value);
        if field.name() == "message" {
            self.put(field, &clean);
        } else {
            // Quoted, as tracing's default formatter shows strings.
            self.put(field, &format!("{clean:?}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, &redact(&format!("{value:?}")));
    }
}

impl VisitOutput<fmt::Result> for FieldWriter<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for FieldWriter<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn values_are_redacted_and_the_rest_of_the_line_is_not() {
        crate::secret::remember("2026");
        crate::secret::remember("Fld-Secret-x1");
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(RedactingFields)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                path = "api/x/Fld-Secret-x1",
                status = 500,
                "the server answered: {}",
                "echo password=Fld-Secret-x1 in 2026"
            );
        });
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
        assert!(!text.contains("Fld-Secret-x1"), "{text}");
        assert!(
            text.contains(
                "the server answered: echo password=(sensitive) in (sensitive) path=\"api/x/(sensitive)\" status=500"
            ),
            "{text}"
        );
        // The timestamp tracing writes before the fields is left alone.
        let year = text.split('-').next().unwrap_or_default();
        assert!(
            year.len() == 4 && year.chars().all(|c| c.is_ascii_digit()),
            "{text}"
        );
    }
}
