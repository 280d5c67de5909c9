//! The key management centre (KMC): it makes every holder's encryption key pair, keeps it in
//! escrow (sealed at rest, AAD = escrow row id), and delivers it to a phone by re-sharing:
//! `make_shares_for_key` gives a fresh `(d1, d2)` for the same public key; `d2` goes to the
//! co-signing service (a `cosign_keys` row), `d1` to the phone in a key envelope sealed to
//! the phone's new **signing** key, which the phone opens by co-decryption. Both shares are
//! wiped here after use. Every past key of a holder stays in escrow and is delivered again
//! with every new certificate pair (renewal, recovery, change of information), so old bid
//! files stay decryptable; a holder's own revocation (注销) destroys them.

use crate::ca::issue::Holder;
use crate::ca::keys::{Sealed, Sealer};
use crate::db::Tx;
use crate::error::Result;
use crate::params;
use crate::util::new_id;
use bidkey_crypto::cosign::make_shares_for_key;
use bidkey_crypto::envelope;
use bidkey_crypto::sm2::{Sm2PrivateKey, Sm2PublicKey};
use zeroize::Zeroizing;

/// A fresh escrowed key, not yet stored.
#[derive(Debug)]
pub struct NewKey {
    pub escrow_id: String,
    pub key: Sm2PrivateKey,
    pub sealed: Vec<u8>,
}

/// Make an encryption key pair and seal it for its escrow row.
pub fn make_key(kmc: &Sealer) -> Result<NewKey> {
    let escrow_id = new_id()?;
    let key = Sm2PrivateKey::make_random()?;
    let sealed = kmc.seal(Sealed::KmcEscrow, &escrow_id, key.to_bytes().as_slice())?;
    Ok(NewKey {
        escrow_id,
        key,
        sealed,
    })
}

/// An escrow row.
#[derive(Debug, Clone)]
pub struct Escrowed {
    pub id: String,
    pub public_key: Vec<u8>,
    pub key_sealed: Vec<u8>,
    pub cert_serial: Option<String>,
    pub cert_der: Option<Vec<u8>>,
}

/// Every deliverable escrowed key of `holder`, oldest first.
pub fn escrowed_of(tx: &mut dyn Tx, holder: &Holder) -> Result<Vec<Escrowed>> {
    let rows = tx.query(
        "SELECT e.id, e.public_key, e.key_sealed, e.cert_serial, c.der FROM kmc_escrow e \
         LEFT JOIN certificates c ON c.serial = e.cert_serial \
         WHERE e.account_id = $1 AND COALESCE(e.enterprise_id, '') = COALESCE($2, '') \
         AND e.withdrawn_at IS NULL ORDER BY e.created_at, e.id",
        &params![&holder.account_id, holder.enterprise_id.as_deref()],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Escrowed {
                id: r.text(0)?,
                public_key: r.bytes(1)?,
                key_sealed: r.bytes(2)?,
                cert_serial: r.opt_text(3)?,
                cert_der: r.opt_bytes(4)?,
            })
        })
        .collect()
}

/// Open an escrowed key.
pub fn open(kmc: &Sealer, row: &Escrowed) -> Result<Sm2PrivateKey> {
    let bytes = kmc.open(Sealed::KmcEscrow, &row.id, &row.key_sealed)?;
    let key = Sm2PrivateKey::from_bytes(&bytes)?;
    if key.public_key().to_sec1() != row.public_key {
        return Err(crate::error::ServerError::Internal(format!(
            "escrow {} does not match its public key",
            row.id
        )));
    }
    Ok(key)
}

/// Store a new key in escrow.
pub fn store(
    tx: &mut dyn Tx,
    now: i64,
    holder: &Holder,
    key: &NewKey,
    cert_serial: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO kmc_escrow (id, account_id, enterprise_id, public_key, key_sealed, cert_serial, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &params![
            key.escrow_id.as_str(),
            &holder.account_id,
            holder.enterprise_id.as_deref(),
            key.key.public_key().to_sec1(),
            key.sealed.clone(),
            cert_serial,
            now
        ],
    )?;
    Ok(())
}

/// Destroy every escrowed key of `holder` (after 注销): the sealed key is overwritten with
/// nothing and the row withdrawn from delivery, so neither the KMC nor anyone holding the
/// database and the KMC key can deliver or open it again ("无法解密原有文件", ADR 0015). The
/// row's public key and certificate serial stay as the record of what was destroyed.
pub fn withdraw(tx: &mut dyn Tx, now: i64, holder: &Holder) -> Result<u64> {
    Ok(tx.execute(
        "UPDATE kmc_escrow SET withdrawn_at = COALESCE(withdrawn_at, $1), key_sealed = $2 \
         WHERE account_id = $3 AND COALESCE(enterprise_id, '') = COALESCE($4, '')",
        &params![
            now,
            Vec::<u8>::new(),
            &holder.account_id,
            holder.enterprise_id.as_deref()
        ],
    )?)
}

/// One delivery: the server share for the co-signing service (sealed for its future
/// `cosign_keys` row) and the device share in an envelope to `recipient`.
#[derive(Debug)]
pub struct Delivery {
    pub cosign_key_id: String,
    pub public_key: Sm2PublicKey,
    pub share_sealed: Vec<u8>,
    pub envelope: Vec<u8>,
}

/// Re-share `key` and seal the halves: `d2` for the co-signing service, `d1` to `recipient`.
pub fn deliver(cosign: &Sealer, key: &Sm2PrivateKey, recipient: &Sm2PublicKey) -> Result<Delivery> {
    let (device, server) = make_shares_for_key(key)?;
    let cosign_key_id = new_id()?;
    let server_bytes = server.to_bytes()?;
    let share_sealed = cosign.seal(Sealed::CosignShare, &cosign_key_id, &server_bytes)?;
    let d1: Zeroizing<[u8; 32]> = device.to_bytes();
    let env = envelope::seal(recipient, key.public_key(), &d1)?;
    Ok(Delivery {
        cosign_key_id,
        public_key: *key.public_key(),
        share_sealed,
        envelope: env.to_der()?,
    })
}
