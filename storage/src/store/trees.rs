//! The store's sled trees, each named once. [`Trees`] holds them, opened by the names in
//! `keyspace`; [`Trees::transaction`] runs a closure over all of them at once, each tree's
//! view in the transaction ([`Tx`]) under the tree's own field name. So a new tree is one
//! line in the list below, no transaction picks its trees by position, and none is bound
//! by the longest tuple sled 0.34 takes (14 trees): the trees go to sled as a slice.
//!
//! A transaction over every tree costs no more than one over a few: sled stages all of
//! its transactions under one lock, and checks and writes only the keys the closure read
//! and wrote.

use sled::transaction::{ConflictableTransactionResult, TransactionResult, TransactionalTree};
use sled::Transactional;

use crate::keyspace::*;

/// Why a commit's transaction gave up: a conflict to retry, or a store error.
pub(super) type Abort = sled::transaction::ConflictableTransactionError<crate::StoreError>;

/// Declares [`Trees`] and [`Tx`] from one list of `field: NAME` pairs (each with its doc).
macro_rules! trees {
    ($($(#[$doc:meta])* $field:ident: $name:ident,)+) => {
        /// The store's sled trees, by name.
        pub(super) struct Trees {
            $($(#[$doc])* pub $field: sled::Tree,)+
        }

        /// Every tree inside one transaction, under the same names as in [`Trees`].
        // A tree no transaction writes yet (the checkpoints) is here all the same.
        #[allow(dead_code)]
        pub(super) struct Tx<'a> {
            $(pub $field: &'a TransactionalTree,)+
        }

        impl Trees {
            /// Opens (or creates) every tree of `db`.
            pub fn open(db: &sled::Db) -> sled::Result<Trees> {
                Ok(Trees {
                    $($field: db.open_tree($name)?,)+
                })
            }

            /// Runs `f` in one sled transaction over every tree (again, if sled finds a
            /// conflict: `f` must do nothing but read and write the trees).
            pub fn transaction<A, E>(
                &self,
                f: impl Fn(&Tx<'_>) -> ConflictableTransactionResult<A, E>,
            ) -> TransactionResult<A, E> {
                let trees: &[&sled::Tree] = &[$(&self.$field),+];
                trees.transaction(|views: &Vec<TransactionalTree>| {
                    // The views come in the order of `trees`, which is the order of the
                    // fields here: a struct's fields are evaluated in the order written.
                    let mut views = views.iter();
                    f(&Tx {
                        $($field: views.next().expect("a view for every tree"),)+
                    })
                })
            }
        }
    };
}

trees! {
    messages: T_MESSAGES,
    items: T_ITEMS,
    cases: T_CASES,
    case_index: T_CASE_INDEX,
    item_index: T_ITEM_INDEX,
    item_state: T_ITEM_STATE,
    /// Each intake's own key, wrapped under the ring key (see `ring`).
    item_keys: T_ITEM_KEYS,
    outbox: T_OUTBOX,
    outbox_sched: T_OUTBOX_SCHED,
    users: T_USERS,
    changes: T_CHANGES,
    audit: T_AUDIT,
    meta: T_META,
    checkpoints: T_CHECKPOINTS,
}
