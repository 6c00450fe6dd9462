//! The auditors' certificates, and their keys' agreements of the last second (see
//! `crypto::agreement::Recipients`): made outside the lock, and dropped once a second old so that
//! their key-encryption keys do not stay in memory.

use std::sync::{Arc, Mutex, MutexGuard};

use sequoia_openpgp::Cert;

use crate::crypto::agreement::Recipients;
use crate::StoreError;

pub(super) struct Auditors(Mutex<State>);

struct State {
    certs: Arc<Vec<Cert>>,
    /// Counts replacements of `certs`: agreements made for earlier ones are not kept.
    generation: u64,
    made: Option<Arc<Recipients>>,
    /// Someone is making the next agreements: until they are in, the last ones serve the
    /// others, rather than each commit of the moment making its own.
    making: bool,
}

impl Auditors {
    pub(super) fn new(certs: Vec<Cert>) -> Auditors {
        Auditors(Mutex::new(State {
            certs: Arc::new(certs),
            generation: 0,
            made: None,
            making: false,
        }))
    }

    pub(super) fn set(&self, certs: Vec<Cert>) {
        let mut s = self.lock();
        s.certs = Arc::new(certs);
        s.generation += 1;
        s.made = None;
    }

    pub(super) fn certs(&self) -> Arc<Vec<Cert>> {
        self.lock().certs.clone()
    }

    /// The auditors' keys with their agreements, made again when a second old. A commit
    /// that took them just before the certificates were replaced (a configuration reload)
    /// still seals its entries to the certificates it took.
    pub(super) fn recipients(&self) -> Result<Arc<Recipients>, StoreError> {
        loop {
            let (certs, generation) = {
                let mut s = self.lock();
                if let Some(made) = s.made.as_ref().filter(|r| r.fresh() || s.making) {
                    return Ok(made.clone());
                }
                s.making = true;
                (s.certs.clone(), s.generation)
            };
            if certs.is_empty() {
                self.lock().making = false;
                return Err(StoreError::Key(
                    "no auditors' certificate to encrypt the audit log to: set [audit] auditor_certs"
                        .into(),
                ));
            }
            // Outside the lock: a scalar multiplication or two per key, and the policy's
            // checks of every certificate.
            let made = Recipients::new(&certs);
            let mut s = self.lock();
            s.making = false;
            let made = Arc::new(made?);
            if s.generation == generation {
                s.made = Some(made.clone());
                return Ok(made);
            }
            // The certificates were replaced meanwhile: make them for the new ones.
        }
    }

    /// Drops agreements a second old: no commit may come to replace them for hours.
    pub(super) fn forget_old(&self) {
        let mut s = self.lock();
        if s.made.as_ref().is_some_and(|r| !r.fresh()) {
            s.made = None;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing is left half-changed under this lock: a panic elsewhere cannot matter.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::agreement::LIFETIME;

    /// Agreements serve while fresh, are made again (for the certificates in use) when a
    /// second old, and are forgotten then even when no commit comes.
    #[test]
    fn agreements_serve_a_second_for_the_certificates_in_use() {
        let a = crate::keys::generate_key("a <a@localhost>").unwrap();
        let b = crate::keys::generate_key("b <b@localhost>").unwrap();
        let auditors = Auditors::new(vec![a.clone()]);
        let first = auditors.recipients().unwrap();
        assert!(Arc::ptr_eq(&first, &auditors.recipients().unwrap()));
        auditors.forget_old();
        assert!(Arc::ptr_eq(&first, &auditors.recipients().unwrap()));

        let old = || {
            Arc::new(
                Recipients::new(std::slice::from_ref(&a))
                    .unwrap()
                    .aged(LIFETIME),
            )
        };
        let stale = old();
        auditors.lock().made = Some(stale.clone());
        assert!(!Arc::ptr_eq(&stale, &auditors.recipients().unwrap()));
        auditors.lock().made = Some(old());
        auditors.forget_old();
        assert!(auditors.lock().made.is_none());

        auditors.set(vec![b.clone()]);
        let made = auditors.recipients().unwrap();
        assert_eq!(made.certs()[0].fingerprint(), b.fingerprint());
        assert!(Auditors::new(Vec::new()).recipients().is_err());
    }
}
