//! Reading the built-in accounts, and the statusmøde series sent (both sealed records
//! outside the intake trees).

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::{Batch, Store};
use crate::keyspace::*;
use crate::records::User;
use crate::{StoreError, Taken};

/// How often [`Store::change_user`] reads again after losing a race before it gives up.
const ATTEMPTS: usize = 32;

/// The SHA-256 of a stored record, what a compare-and-swap compares.
pub(super) fn seen(stored: &[u8]) -> [u8; 32] {
    Sha256::digest(stored).into()
}

impl Store {
    pub fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.sealed_at(&self.inner.trees.users, T_USERS, id.as_bytes())
    }

    /// Changes account `id` so that no change is ever undone by a copy read before it:
    /// `change` gets the account as stored now (`None` if there is none) and a batch to put
    /// the changed account (`Batch::user`), its audit entries and anything else in; the batch
    /// commits only if the stored account is still the one `change` saw (compare-and-swap).
    /// If another change came first, the account is read again and `change` runs again on
    /// it. An empty batch writes nothing. What `change` returns is the answer.
    pub fn change_user<T, E: From<StoreError>>(
        &self,
        id: &str,
        now: Timestamp,
        mut change: impl FnMut(Option<User>, &mut Batch) -> Result<T, E>,
    ) -> Result<T, E> {
        for _ in 0..ATTEMPTS {
            let stored = self
                .inner
                .trees
                .users
                .get(id.as_bytes())
                .map_err(StoreError::from)?;
            let user = match &stored {
                Some(v) => Some(self.open_sealed(T_USERS, id.as_bytes(), v)?),
                None => None,
            };
            let mut b = Batch::new();
            let answer = change(user, &mut b)?;
            if b.is_empty() {
                return Ok(answer);
            }
            b.users_seen
                .push((id.to_string(), stored.as_deref().map(seen)));
            match self.commit(b, now) {
                Ok(()) => return Ok(answer),
                Err(StoreError::Changed(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Changed(format!("account {id}")).into())
    }

    /// Adds `user` with the audit entries in `batch`, unless another account has its id or
    /// (in any case) its e-mail: one account per person, so no one can be given a second
    /// way in on someone else's address.
    pub fn add_user(
        &self,
        user: User,
        mut batch: Batch,
        now: Timestamp,
    ) -> Result<Result<(), Taken>, StoreError> {
        let _one = self.inner.locks.new_account();
        let accounts = self.users()?;
        if accounts.iter().any(|u| u.id == user.id) {
            return Ok(Err(Taken::Id));
        }
        if accounts
            .iter()
            .any(|u| u.email.eq_ignore_ascii_case(&user.email))
        {
            return Ok(Err(Taken::Email));
        }
        batch.users_seen.push((user.id.clone(), None));
        batch.user(user);
        self.commit(batch, now)?;
        Ok(Ok(()))
    }

    /// Every account, by id.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.all_sealed(self.inner.trees.users.iter(), T_USERS)
    }

    /// The statusmøde invitations sent for a school year, if any.
    pub fn series(
        &self,
        school_year: i16,
    ) -> Result<Option<crate::series::SentSeries>, StoreError> {
        let key = crate::series::key(school_year);
        self.sealed_at(&self.inner.trees.meta, T_META, key.as_bytes())
    }
}
