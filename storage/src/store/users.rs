//! Reading the built-in accounts.

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
}
