//! What the listener loop answers the sans-IO session: the storage and rate check at
//! `MAIL FROM`, and how a commit went.

/// The loop's answer to `Action::CheckMail`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MailCheck {
    Ok,
    /// The client has sent too many messages lately.
    RateLimited,
    /// Too little free space for the message.
    Full,
    /// Storage is out of order.
    Unavailable,
    /// The memory budget for messages is used up by other sessions.
    Busy,
}

/// How a commit went, as far as the client is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum Committed {
    Queued(String),
    /// Storage failed; the client should try again later.
    TempFail,
    /// The disk is full.
    Full,
}
