//! Writing to stdout without panicking when the reader has gone (`bidkey … | head`).
//!
//! Rust ignores `SIGPIPE`, so a write to a closed pipe fails with `EPIPE` and `println!`
//! panics ("failed printing to stdout: Broken pipe"). Command-line tools instead stop
//! quietly: every line the CLI prints goes through [`line`], which reports a closed pipe as
//! [`Closed`] for the caller to end on, and remembers it so nothing more is tried. The crate
//! denies `clippy::print_stdout` so no `println!` slips back in.

use std::fmt::Display;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout's reader has gone.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Why a line could not be printed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The reader closed the pipe: nobody wants more output. Not a failure of the command.
    #[error("stdout closed by its reader")]
    Closed,
    /// Any other failure (a full disk when stdout is a file): worth reporting.
    #[error("writing to stdout: {0}")]
    Io(#[source] std::io::Error),
}

/// Print `text` and a newline on stdout, flushed.
pub fn line(text: impl Display) -> Result<(), WriteError> {
    bytes(format!("{text}\n").as_bytes())
}

/// Print `data` as it is (generated completions, a man page), flushed.
pub fn bytes(data: &[u8]) -> Result<(), WriteError> {
    if CLOSED.load(Ordering::Relaxed) {
        return Err(WriteError::Closed);
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(data).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Err(WriteError::Closed)
        }
        Err(e) => Err(WriteError::Io(e)),
    }
}

/// Print a line of narration (the demo's progress), dropping it when stdout is gone: the
/// demo's real output is its report and files, which it goes on to write.
pub fn narrate(text: impl Display) {
    let _ = line(text);
}

/// `println!` for narration, through [`narrate`].
#[macro_export]
macro_rules! say {
    () => {
        $crate::stdout::narrate("")
    };
    ($($arg:tt)*) => {
        $crate::stdout::narrate(format_args!($($arg)*))
    };
}
