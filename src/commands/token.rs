//! `token new`.

use super::Failure;
use crate::access::{new_token, token_sha256};
use crate::eth::hex;

/// Prints a new token once, and the `[[auth.tokens]]` lines to paste.
pub(super) fn new(name: &str) -> Result<(), Failure> {
    if name.trim().is_empty() || name.contains('"') || name.contains('\\') {
        return Err(Failure::config(anyhow::anyhow!(
            "--name must be non-empty, without quotes or backslashes"
        )));
    }
    let token = new_token();
    let hash = hex::encode(token_sha256(&token));
    println!("{}", token.as_str());
    eprintln!(
        "The line above is the token; it is shown only now. Give it to the gateway:\n  \
         -remoteSignerHeaders 'Authorization:Bearer <token>'\n\
         and add this to the signer's config (it holds only the SHA-256):"
    );
    println!("\n[[auth.tokens]]\nname = \"{name}\"\nsha256 = \"{hash}\"");
    Ok(())
}
