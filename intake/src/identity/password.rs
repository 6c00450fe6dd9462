//! Passwords as Argon2id hashes (PHC strings), with the parameters of OWASP's Password
//! Storage Cheat Sheet (its first Argon2id configuration: 46 MiB of memory, one pass, one
//! lane). A hash records its own parameters, so stronger ones later still verify old hashes.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory in KiB, passes, lanes.
const MEMORY_KIB: u32 = 47_104;
const PASSES: u32 = 1;
const LANES: u32 = 1;

/// The shortest password taken: NIST SP 800-63B's minimum for a password that is one factor
/// of two.
pub const MIN_LENGTH: usize = 8;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Argon2 at most one run per core at once, each holding its memory from the daemon's
/// budget (`[smtp] max_memory_bytes`, shared with the messages in flight): a flood of
/// sign-ins waits its turn, or is told to come back, instead of taking the memory (100 at
/// once took 2.6 GiB before, issue 25).
pub struct Gate {
    slots: tokio::sync::Semaphore,
    memory: std::sync::Arc<crate::memory::MemoryBudget>,
}

impl Gate {
    pub fn new(memory: std::sync::Arc<crate::memory::MemoryBudget>) -> Gate {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Gate {
            slots: tokio::sync::Semaphore::new(cores),
            memory,
        }
    }

    /// Runs `work` (a hash or a verification, with whatever storage reads go with it) on a
    /// blocking thread once a slot and Argon2's memory are free; `None`, with nothing run,
    /// when the memory budget has no room now.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let _slot = self.slots.acquire().await.ok()?;
        let mut lease = crate::memory::Lease::new(self.memory.clone());
        if !lease.grow_to(MEMORY_KIB as usize * 1024) {
            return None;
        }
        Some(crate::app::blocking(work).await)
    }
}

/// The longest password taken; a longer one is refused before it is hashed.
pub const MAX_BYTES: usize = 1024;

/// Whether a new password, typed twice, may be taken; the person's words for why not.
pub fn check_new(first: &str, again: &str) -> Result<(), String> {
    if first != again {
        return Err("De to adgangskoder er ikke ens.".into());
    }
    if first.chars().count() < MIN_LENGTH || first.len() > MAX_BYTES {
        return Err(format!("Adgangskoden skal være mindst {MIN_LENGTH} tegn."));
    }
    Ok(())
}

/// A new hash of `password`, with a fresh salt.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 hashes any password")
        .to_string()
}

/// Takes as long as [`verify`] and verifies nothing: for a name that has no account, so that
/// the answer does not come sooner than for a wrong password (one Argon2 run, as there).
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| hash("-"));
    verify(password, &DUMMY);
}

/// Whether `password` is the one `phc` was made from. A damaged hash verifies nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_salted_and_verifies_only_its_password() {
        let h = hash("korrekt hest batteri");
        assert!(h.starts_with("$argon2id$v=19$m=47104,t=1,p=1$"), "{h}");
        assert!(verify("korrekt hest batteri", &h));
        assert!(!verify("korrekt hest batteri!", &h));
        assert_ne!(hash("korrekt hest batteri"), h, "a fresh salt each time");
        assert!(!verify("x", "not a hash"));
    }
}
