//! Certificate path validation for relying parties (trading platforms, the server).
//!
//! Checked for every certificate of the path at the caller's trusted time: signature
//! (allow-listed SM2 or P-256), validity, issuer name = subject name of the next certificate,
//! no unknown critical extensions; for every issuer: basicConstraints cA, pathLenConstraint and
//! keyCertSign; for the leaf: the usage the caller needs; and, with revocation, a current CRL
//! from each issuer whose signature verifies, and no entry for the certificate. Failure is
//! always closed: a missing, stale or unverifiable CRL rejects the chain.

use super::cert::Cert;
use super::crl::{Crl, CrlReason};
use crate::error::CertProblem;

/// Longest accepted path, leaf and trust anchor included.
const MAX_PATH_LEN: usize = 6;

/// What the caller wants to use the leaf's key for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequiredUsage {
    /// Verifying a signature: digitalSignature is required.
    Signing,
    /// Encrypting a content key to the certificate (SM2 envelope): keyEncipherment is required.
    Encryption,
}

/// A validated path, leaf first and trust anchor last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChain {
    pub certs: Vec<Cert>,
}

impl VerifiedChain {
    pub fn leaf(&self) -> &Cert {
        &self.certs[0]
    }
}

/// Validate `leaf` up to one of `trusted_roots` at `at` (Unix seconds), with revocation
/// checked against `crls`: every certificate below the anchor needs a current CRL from its
/// issuer.
pub fn verify_chain(
    leaf: &Cert,
    intermediates: &[Cert],
    trusted_roots: &[Cert],
    at: u64,
    crls: &[Crl],
    required_usage: RequiredUsage,
) -> Result<VerifiedChain, CertProblem> {
    let chain =
        verify_chain_without_revocation(leaf, intermediates, trusted_roots, at, required_usage)?;
    for pair in chain.certs.windows(2) {
        check_revocation(&pair[0], &pair[1], crls, at)?;
    }
    Ok(chain)
}

/// [`verify_chain`] without revocation checking, for callers that check status otherwise
/// (e.g. the issuing server's own database) or a device checking its own certificate.
pub fn verify_chain_without_revocation(
    leaf: &Cert,
    intermediates: &[Cert],
    trusted_roots: &[Cert],
    at: u64,
    required_usage: RequiredUsage,
) -> Result<VerifiedChain, CertProblem> {
    let path = build_path(leaf, intermediates, trusted_roots)?;
    for cert in &path {
        check_validity(cert, at)?;
        if cert.has_unknown_critical_extension() {
            return Err(CertProblem::UnknownCriticalExtension);
        }
    }
    for (depth, issuer) in path.iter().enumerate().skip(1) {
        // `depth - 1` CA certificates sit between this issuer and the leaf.
        check_issuer(issuer, depth - 1)?;
    }
    check_leaf_usage(leaf, required_usage)?;
    Ok(VerifiedChain {
        certs: path.into_iter().cloned().collect(),
    })
}

/// Follow issuer names from the leaf to a trusted root, taking only issuers whose key
/// verifies the certificate's signature.
fn build_path<'a>(
    leaf: &'a Cert,
    intermediates: &'a [Cert],
    roots: &'a [Cert],
) -> Result<Vec<&'a Cert>, CertProblem> {
    let mut path = vec![leaf];
    while path.len() < MAX_PATH_LEN {
        let current = path[path.len() - 1];
        let signed_by = |c: &&Cert| {
            c.subject() == current.issuer() && current.verify_signature(c.public_key()).is_ok()
        };
        if let Some(root) = roots.iter().find(signed_by) {
            path.push(root);
            return Ok(path);
        }
        match intermediates
            .iter()
            .filter(|c| !path.contains(c))
            .find(signed_by)
        {
            Some(next) => path.push(next),
            None => return Err(missing_issuer(current, intermediates, roots)),
        }
    }
    Err(CertProblem::PathTooLong)
}

/// An issuer with the right name exists but its key does not verify: the signature is bad;
/// no such name at all: the issuer is unknown.
fn missing_issuer(cert: &Cert, intermediates: &[Cert], roots: &[Cert]) -> CertProblem {
    if roots
        .iter()
        .chain(intermediates)
        .any(|c| c.subject() == cert.issuer())
    {
        CertProblem::BadSignature
    } else {
        CertProblem::UntrustedIssuer
    }
}

fn check_validity(cert: &Cert, at: u64) -> Result<(), CertProblem> {
    if at < cert.not_before() {
        return Err(CertProblem::NotYetValid);
    }
    if at > cert.not_after() {
        return Err(CertProblem::Expired);
    }
    Ok(())
}

fn check_issuer(issuer: &Cert, cas_below: usize) -> Result<(), CertProblem> {
    if !issuer.is_ca() {
        return Err(CertProblem::NotCa);
    }
    if !issuer.key_usage().is_some_and(|ku| ku.key_cert_sign) {
        return Err(CertProblem::KeyUsage("certificate signing"));
    }
    if issuer
        .path_len()
        .is_some_and(|max| cas_below > usize::from(max))
    {
        return Err(CertProblem::PathTooLong);
    }
    Ok(())
}

fn check_leaf_usage(leaf: &Cert, usage: RequiredUsage) -> Result<(), CertProblem> {
    let ku = leaf.key_usage().unwrap_or_default();
    match usage {
        RequiredUsage::Signing if !ku.digital_signature => Err(CertProblem::KeyUsage("signing")),
        RequiredUsage::Encryption if !ku.key_encipherment => {
            Err(CertProblem::KeyUsage("encryption"))
        }
        _ => Ok(()),
    }
}

/// `cert` is revoked if any authentic CRL of `issuer` issued by `at` lists it; a current
/// one must exist.
fn check_revocation(cert: &Cert, issuer: &Cert, crls: &[Crl], at: u64) -> Result<(), CertProblem> {
    let mut from_issuer = 0usize;
    let mut current = 0usize;
    for crl in crls.iter().filter(|c| c.issuer() == issuer.subject()) {
        from_issuer += 1;
        if crl.verify_signature(issuer).is_err()
            || !issuer.key_usage().is_some_and(|ku| ku.crl_sign)
        {
            return Err(CertProblem::BadCrl);
        }
        if crl.this_update() > at {
            continue;
        }
        let entry = crl
            .find(cert.serial_bytes())
            .map_err(|_| CertProblem::BadCrl)?;
        if entry.is_some_and(|e| e.reason != Some(CrlReason::RemoveFromCRL)) {
            return Err(CertProblem::Revoked);
        }
        if crl.next_update().is_some_and(|next| at <= next) {
            current += 1;
        }
    }
    match (from_issuer, current) {
        (0, _) => Err(CertProblem::NoCrl),
        (_, 0) => Err(CertProblem::StaleCrl),
        _ => Ok(()),
    }
}
