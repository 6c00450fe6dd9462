//! The SMTP session without a socket: the transcripts and what they cannot say.

mod session;
mod transcripts;
