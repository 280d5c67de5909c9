//! PEM armour (RFC 7468) around the DER the rest of the module works on.

use crate::error::{Error, Result};
use der::pem::{self, LineEnding};

/// The DER inside one PEM block with `label`; another label is an error.
pub(crate) fn decode(text: &str, label: &str, what: &'static str) -> Result<Vec<u8>> {
    let (found, der) =
        pem::decode_vec(text.trim().as_bytes()).map_err(|_| Error::malformed(what))?;
    if found != label {
        return Err(Error::malformed(what));
    }
    Ok(der)
}

/// One PEM block with `\n` line endings.
pub(crate) fn encode(label: &str, der: &[u8]) -> Result<String> {
    pem::encode_string(label, LineEnding::LF, der).map_err(|e| Error::Encoding(e.to_string()))
}
