//! Reading the built-in accounts, and the statusmøde series sent (both sealed records
//! outside the intake trees).

use super::Store;
use crate::keyspace::*;
use crate::records::User;
use crate::StoreError;

impl Store {
    pub fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.sealed_at(&self.inner.users, T_USERS, id.as_bytes())
    }

    /// Every account, by id.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.all_sealed(self.inner.users.iter(), T_USERS)
    }

    /// The statusmøde invitations sent for a school year, if any.
    pub fn series(
        &self,
        school_year: i16,
    ) -> Result<Option<crate::series::SentSeries>, StoreError> {
        let key = crate::series::key(school_year);
        self.sealed_at(&self.inner.meta, T_META, key.as_bytes())
    }
}
