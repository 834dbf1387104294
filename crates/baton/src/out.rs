//! Standard output for every command. `println!` panics when stdout is a pipe its reader has
//! closed (`baton policy eval … | head`: "failed printing to stdout: Broken pipe"); `outln!`
//! and `out!` write the same text and take a closed pipe quietly: the output ends there and
//! the command goes on to its end (a run is never cut short because its reader left), exiting
//! with its own code. Rust ignores `SIGPIPE`, and Baton keeps it so: restoring the default
//! would kill the whole process on any write to a closed pipe, a provider's child process
//! included, in the middle of a run.
//!
//! Must not hold any state: a closed pipe is seen again by every later write.

use std::io::Write as _;

/// Writes formatted text to stdout: a closed pipe is ignored, any other failure is reported
/// on stderr (as `println!` would panic).
pub fn write(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    match out.write_fmt(args) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("Error: cannot write to standard output: {e}");
        }
        _ => {}
    }
}

/// `println!` without the panic on a closed pipe.
macro_rules! outln {
    () => {
        $crate::out::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` without the panic on a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::write(format_args!($($arg)*))
    };
}
