//! Reading the case registry.

use super::Store;
use crate::keyspace::*;
use crate::records::Case;
use crate::StoreError;

impl Store {
    /// Cases of the child with this CPR (ten digits), open or not.
    pub fn cases_for_cpr(&self, cpr_digits: &str) -> Result<Vec<Case>, StoreError> {
        let prefix = self.blind(cpr_digits);
        self.all_sealed(self.inner.trees.cases.scan_prefix(prefix), T_CASES)
    }

    pub fn case(&self, case_number: &str) -> Result<Option<Case>, StoreError> {
        let Some(key) = self.inner.trees.case_index.get(case_number.as_bytes())? else {
            return Ok(None);
        };
        match self.inner.trees.cases.get(&key)? {
            Some(v) => Ok(Some(self.open_sealed(
                T_CASES,
                case_number.as_bytes(),
                &v,
            )?)),
            None => Ok(None),
        }
    }

    /// Every case in the registry, in case-number order.
    pub fn cases(&self) -> Result<Vec<Case>, StoreError> {
        let mut out = Vec::new();
        for kv in self.inner.trees.case_index.iter() {
            let (number, _) = kv?;
            if let Some(c) = self.case(&String::from_utf8_lossy(&number))? {
                out.push(c);
            }
        }
        Ok(out)
    }
}
