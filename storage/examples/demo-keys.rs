//! Generates the demo directory's key pairs into `deploy/demo/keys/` (demo and tests only:
//! the secret keys are published on purpose). Run from the workspace root:
//! `cargo run -p modtag-storage --example demo-keys -- ID "Name <email>" ...`

use modtag_storage::keys::{armor_public, armor_secret, generate_key};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [id, userid] = pair else {
            eprintln!("usage: demo-keys ID USERID [ID USERID ...]");
            std::process::exit(2);
        };
        let key = generate_key(userid).expect("generate key");
        let dir = std::path::Path::new("deploy/demo/keys");
        std::fs::write(
            dir.join(format!("{id}.cert.asc")),
            armor_public(&key).unwrap(),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{id}.key.asc")),
            armor_secret(&key).unwrap(),
        )
        .unwrap();
        println!("{id}: {}", key.fingerprint());
    }
}
