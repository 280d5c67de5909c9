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
    /// Verifying a bidder's (or any non-platform) signature: digitalSignature is required,
    /// and a platform certificate is refused (a platform cannot pass for a bidder).
    Signing,
    /// Verifying a trading platform's scan request (ADR 0016): digitalSignature and Bidkey's
    /// platform extendedKeyUsage are required (a bidder's certificate cannot sign one).
    PlatformRequest,
    /// Encrypting a content key to the certificate (SM2 envelope): keyEncipherment is required.
    Encryption,
}

/// A validated path, leaf first and trust anchor last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChain {
    certs: Vec<Cert>,
}

impl VerifiedChain {
    /// The path, leaf first and trust anchor last (never empty).
    pub fn certs(&self) -> &[Cert] {
        &self.certs
    }

    pub fn leaf(&self) -> Option<&Cert> {
        self.certs.first()
    }

    pub fn anchor(&self) -> Option<&Cert> {
        self.certs.last()
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
        RequiredUsage::Signing | RequiredUsage::PlatformRequest if !ku.digital_signature => {
            Err(CertProblem::KeyUsage("signing"))
        }
        RequiredUsage::Signing if leaf.is_platform() => Err(CertProblem::KeyUsage(
            "a bidder's signature (platform certificate)",
        )),
        RequiredUsage::PlatformRequest if !leaf.is_platform() => Err(CertProblem::KeyUsage(
            "a platform's request (no platform usage)",
        )),
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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;
    use super::*;

    struct Setup {
        pki: Pki,
        crls: Vec<Crl>,
    }

    /// The PKI plus a current empty CRL from each CA.
    fn setup() -> Setup {
        let pki = sm2_pki();
        let crls = vec![
            crl(&pki.root, &pki.root_key, &[], T0, T0 + 30 * DAY),
            crl(&pki.ca, &pki.ca_key, &[], T0, T0 + 7 * DAY),
        ];
        Setup { pki, crls }
    }

    fn check(s: &Setup, leaf: &Cert, at: u64, usage: RequiredUsage) -> Result<(), CertProblem> {
        verify_chain(
            leaf,
            std::slice::from_ref(&s.pki.ca),
            std::slice::from_ref(&s.pki.root),
            at,
            &s.crls,
            usage,
        )
        .map(|_| ())
    }

    #[test]
    fn good_sm2_chain_for_both_usages() {
        let s = setup();
        let chain = verify_chain(
            &s.pki.sign,
            std::slice::from_ref(&s.pki.ca),
            std::slice::from_ref(&s.pki.root),
            T0 + DAY,
            &s.crls,
            RequiredUsage::Signing,
        )
        .expect("valid");
        assert_eq!(
            chain.certs,
            vec![s.pki.sign.clone(), s.pki.ca.clone(), s.pki.root.clone()]
        );
        check(&s, &s.pki.enc, T0 + DAY, RequiredUsage::Encryption).expect("valid");
    }

    #[test]
    fn time_outside_validity() {
        let s = setup();
        assert_eq!(
            check(&s, &s.pki.sign, T0 - 1, RequiredUsage::Signing),
            Err(CertProblem::NotYetValid)
        );
        assert_eq!(
            verify_chain_without_revocation(
                &s.pki.sign,
                std::slice::from_ref(&s.pki.ca),
                std::slice::from_ref(&s.pki.root),
                T0 + 366 * DAY,
                RequiredUsage::Signing
            ),
            Err(CertProblem::Expired)
        );
    }

    /// ADR 0016: only a platform-profile certificate signs scan requests, and it never
    /// passes for a bidder's signing certificate.
    #[test]
    fn platform_and_bidder_certificates_do_not_stand_in_for_each_other() {
        let s = setup();
        let platform_key = key();
        let platform = Cert::issue(
            &template(
                CertProfile::Platform,
                ca_subject("https://platform.example", "平台").expect("name"),
                &platform_key,
            ),
            &s.pki.ca,
            &s.pki.ca_key,
        )
        .expect("platform cert");
        assert!(platform.is_platform() && !s.pki.sign.is_platform());
        check(&s, &platform, T0 + DAY, RequiredUsage::PlatformRequest).expect("a platform's");
        assert!(matches!(
            check(&s, &s.pki.sign, T0 + DAY, RequiredUsage::PlatformRequest),
            Err(CertProblem::KeyUsage(_))
        ));
        assert!(matches!(
            check(&s, &platform, T0 + DAY, RequiredUsage::Signing),
            Err(CertProblem::KeyUsage(_))
        ));
    }

    #[test]
    fn wrong_usage_is_refused() {
        let s = setup();
        assert_eq!(
            check(&s, &s.pki.enc, T0 + DAY, RequiredUsage::Signing),
            Err(CertProblem::KeyUsage("signing"))
        );
        assert_eq!(
            check(&s, &s.pki.sign, T0 + DAY, RequiredUsage::Encryption),
            Err(CertProblem::KeyUsage("encryption"))
        );
    }

    #[test]
    fn wrong_issuer_and_untrusted_root() {
        let s = setup();
        let other = sm2_pki();
        assert_eq!(
            check(&s, &other.sign, T0 + DAY, RequiredUsage::Signing),
            Err(CertProblem::BadSignature),
            "same CA name, other key"
        );
        let stranger_key = key();
        let stranger = Cert::self_signed_root(
            ca_subject("Other CA", "Other").expect("name"),
            &stranger_key,
            T0,
            T0 + 365 * DAY,
        )
        .expect("root");
        let leaf = Cert::issue(
            &template(
                CertProfile::Signing,
                person_subject(
                    "李四",
                    &PersonIdDigest::compute(b"0123456789abcdef", "11010519491231002X")
                        .expect("id"),
                )
                .expect("name"),
                &key(),
            ),
            &stranger,
            &stranger_key,
        )
        .expect("leaf");
        assert_eq!(
            check(&s, &leaf, T0 + DAY, RequiredUsage::Signing),
            Err(CertProblem::UntrustedIssuer)
        );
        assert_eq!(
            verify_chain(
                &s.pki.sign,
                &[],
                std::slice::from_ref(&s.pki.root),
                T0 + DAY,
                &s.crls,
                RequiredUsage::Signing
            )
            .map(|_| ()),
            Err(CertProblem::UntrustedIssuer),
            "intermediate missing"
        );
    }

    #[test]
    fn mutated_signature_or_tbs_is_a_bad_signature() {
        let s = setup();
        let der = s.pki.sign.to_der();
        let mut sig_mutated = der.to_vec();
        let last = sig_mutated.len() - 1;
        sig_mutated[last] ^= 1;
        let mut tbs_mutated = der.to_vec();
        // Change a byte of the (UTF-8) subject name inside the TBS.
        let cn = "测试".as_bytes();
        let pos = tbs_mutated
            .windows(cn.len())
            .position(|w| w == cn)
            .expect("subject in DER");
        tbs_mutated[pos + 2] ^= 1;
        for bad in [sig_mutated, tbs_mutated] {
            let cert = Cert::from_der(&bad).expect("still well-formed");
            assert_eq!(
                check(&s, &cert, T0 + DAY, RequiredUsage::Signing),
                Err(CertProblem::BadSignature)
            );
        }
    }

    #[test]
    fn revoked_leaf_and_crl_problems() {
        let mut s = setup();
        s.crls[1] = crl(&s.pki.ca, &s.pki.ca_key, &[&s.pki.sign], T0, T0 + 7 * DAY);
        assert_eq!(
            check(&s, &s.pki.sign, T0 + DAY, RequiredUsage::Signing),
            Err(CertProblem::Revoked)
        );
        check(&s, &s.pki.enc, T0 + DAY, RequiredUsage::Encryption).expect("not revoked");
        // Past nextUpdate of the issuing CA's CRL.
        assert_eq!(
            check(&s, &s.pki.enc, T0 + 8 * DAY, RequiredUsage::Encryption),
            Err(CertProblem::StaleCrl)
        );
        // No CRL from the issuing CA at all.
        s.crls.truncate(1);
        assert_eq!(
            check(&s, &s.pki.enc, T0 + DAY, RequiredUsage::Encryption),
            Err(CertProblem::NoCrl)
        );
        // A CRL naming the CA but signed by another key.
        s.crls
            .push(crl(&s.pki.ca, &s.pki.ca_key, &[], T0, T0 + 7 * DAY));
        let forged = {
            let mut der = s.crls[1].to_der().to_vec();
            let last = der.len() - 1;
            der[last] ^= 1;
            Crl::from_der(&der).expect("well-formed")
        };
        s.crls[1] = forged;
        assert_eq!(
            check(&s, &s.pki.enc, T0 + DAY, RequiredUsage::Encryption),
            Err(CertProblem::BadCrl)
        );
    }

    #[test]
    fn revoked_intermediate() {
        let mut s = setup();
        s.crls[0] = crl(
            &s.pki.root,
            &s.pki.root_key,
            &[&s.pki.ca],
            T0,
            T0 + 30 * DAY,
        );
        assert_eq!(
            check(&s, &s.pki.sign, T0 + DAY, RequiredUsage::Signing),
            Err(CertProblem::Revoked)
        );
    }

    #[test]
    fn intermediate_without_ca_flag() {
        let s = setup();
        // An end-entity certificate used as an issuer; `Cert::issue` refuses to do this, so
        // build the forged child directly.
        let fake_ca = &s.pki.sign;
        let leaf = cert::build(
            &template(
                CertProfile::Signing,
                ca_subject("x", "y").expect("name"),
                &key(),
            ),
            fake_ca.subject().clone(),
            &s.pki.sign_key,
        )
        .expect("forged leaf");
        assert_eq!(
            verify_chain_without_revocation(
                &leaf,
                &[s.pki.ca.clone(), fake_ca.clone()],
                std::slice::from_ref(&s.pki.root),
                T0 + DAY,
                RequiredUsage::Signing
            ),
            Err(CertProblem::NotCa)
        );
        assert_eq!(
            Cert::issue(
                &template(
                    CertProfile::Signing,
                    ca_subject("x", "y").expect("name"),
                    &key()
                ),
                fake_ca,
                &s.pki.sign_key
            )
            .map(|_| ()),
            Err(crate::Error::Certificate(CertProblem::NotCa))
        );
    }

    #[test]
    fn path_length_of_issuing_ca_is_zero() {
        let s = setup();
        let sub_key = key();
        let sub_ca = Cert::issue(
            &template(
                CertProfile::IssuingCa,
                ca_subject("Sub CA", "Bidkey").expect("name"),
                &sub_key,
            ),
            &s.pki.ca,
            &s.pki.ca_key,
        )
        .expect("sub CA");
        let leaf = Cert::issue(
            &template(
                CertProfile::Signing,
                ca_subject("leaf", "x").expect("name"),
                &key(),
            ),
            &sub_ca,
            &sub_key,
        )
        .expect("leaf");
        assert_eq!(
            verify_chain_without_revocation(
                &leaf,
                &[s.pki.ca.clone(), sub_ca],
                std::slice::from_ref(&s.pki.root),
                T0 + DAY,
                RequiredUsage::Signing
            ),
            Err(CertProblem::PathTooLong)
        );
    }

    #[test]
    fn p256_chain() {
        let rng = &mut crate::rng::os_rng();
        let gen_key = |rng: &mut _| {
            use sm2::elliptic_curve::Generate;
            p256::ecdsa::SigningKey::generate_from_rng(rng)
        };
        let root_key = gen_key(rng);
        let root = Cert::self_signed_root(
            ca_subject("P-256 Root", "Bidkey").expect("name"),
            &root_key,
            T0,
            T0 + 3650 * DAY,
        )
        .expect("root");
        let ca_key = gen_key(rng);
        let ca = Cert::issue(
            &template(
                CertProfile::IssuingCa,
                ca_subject("P-256 CA", "Bidkey").expect("name"),
                &ca_key,
            ),
            &root,
            &root_key,
        )
        .expect("ca");
        let leaf_key = gen_key(rng);
        let leaf = Cert::issue(
            &template(
                CertProfile::Signing,
                enterprise_subject("公司", USCC).expect("name"),
                &leaf_key,
            ),
            &ca,
            &ca_key,
        )
        .expect("leaf");
        let crls = [
            crl(&root, &root_key, &[], T0, T0 + DAY * 30),
            crl(&ca, &ca_key, &[], T0, T0 + DAY * 7),
        ];
        verify_chain(
            &leaf,
            &[ca],
            &[root],
            T0 + DAY,
            &crls,
            RequiredUsage::Signing,
        )
        .expect("valid");
        assert!(leaf.sm2_public_key().is_err());
    }
}
