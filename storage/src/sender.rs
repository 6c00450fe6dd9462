//! What an intake's sender being known means for it (issue 26, issue 30): the methods on
//! [`Item`](crate::records::Item) that the rules ask, apart from `records` and `trust` so
//! that neither imports the other.

use crate::trust::SenderTrust;

impl crate::records::Item {
    /// Whether the sender is known: proven by the transport, or confirmed by a person.
    pub fn sender_known(&self) -> bool {
        self.sender_trust != SenderTrust::Unverified || self.sender_confirmed.is_some()
    }

    /// Whether how the sender is known also proves `email` is theirs: DMARC and a partner's
    /// TLS prove the `From:` address; MitID Erhverv proves only the address NemLog-in gave
    /// (one typed beside the sign-in is only typed, issue 30).
    pub fn sender_proves_address(&self, email: &str) -> bool {
        crate::trust::proves_address(self.sender_trust, self.signed_in.as_ref(), email)
    }
}
