//! Reading the built-in accounts.

use super::Store;
use crate::keyspace::*;
use crate::records::User;
use crate::StoreError;

impl Store {
    pub fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        match self.inner.users.get(id.as_bytes())? {
            Some(v) => Ok(Some(self.open_sealed(T_USERS, id.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    /// Every account, by id.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.inner
            .users
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                self.open_sealed(T_USERS, &k, &v)
            })
            .collect()
    }
}
