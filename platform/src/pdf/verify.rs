//! Verify every signature of a PDF, and CMS messages on their own.
//!
//! For each signature field with a value: the ByteRange is well-formed and its gap is
//! exactly the `/Contents` string; the CMS verifies against the digest of the ByteRange
//! (signature, messageDigest, signingCertificateV2, timestamps); whether it covers the whole
//! file, and if not what the later revisions changed (only signature fields, widgets and
//! their appearances, or anything else); the signer's chain to the pinned root and its
//! revocation, both at the timestamped time. Problems of one signature are reported in its
//! [`SignatureReport`]; only a file that cannot be read at all is an error.

use super::PdfProblem;
use super::file::{Entry, PdfFile};
use super::object::{ObjRef, Object};
use crate::error::Result;
use crate::verify::TrustAnchor;
use bidkey_crypto::cms::{self, Content, HashAlgorithm, Hasher, VerifiedSigner};
use bidkey_crypto::x509::{Cert, Crl, CrlReason, RequiredUsage, verify_chain_without_revocation};
use bidkey_crypto::{CmsProblem, Error as CryptoError};
use serde::Serialize;
use std::collections::{BTreeSet, HashSet};
use std::io::{Read, Seek};

/// More signatures than this in one file is refused (a real document has a handful).
pub const MAX_SIGNATURES: usize = 1000;
/// Largest `/Contents` accepted, bytes of DER.
pub const MAX_CONTENTS: usize = 1 << 20;
/// Most form-field nodes walked.
const MAX_FIELDS: usize = 100_000;
/// Most objects of later revisions compared.
const MAX_CHANGED_OBJECTS: usize = 100_000;

/// What to check signers against.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions<'a> {
    /// The pinned Bidkey root (and intermediates); `None`: the chain is not checked.
    pub anchor: Option<&'a TrustAnchor>,
    /// Where timestamp authorities chain to, when not to `anchor` (Bidkey's TSA certificates
    /// come from the Bidkey CA, so usually `None`).
    pub tsa_anchor: Option<&'a TrustAnchor>,
    /// CRLs, one or more per issuer; none: revocation is not checked.
    pub crls: &'a [Crl],
    /// The time to check untimestamped signatures at (the caller's trusted clock).
    pub now: u64,
}

/// A check that was made, failed, or could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum Check {
    Valid,
    Invalid(String),
    NotChecked(String),
}

impl Check {
    pub fn is_valid(&self) -> bool {
        matches!(self, Check::Valid)
    }
}

/// What the revisions after a signature changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LaterChanges {
    /// The signature covers the whole file.
    None,
    /// Later revisions only add signature fields, their widgets and appearances.
    SignaturesOnly,
    /// The document was changed after signing.
    Modified,
    /// The covered part does not end at a revision: nothing can be said.
    Unknown,
}

/// One signer of a CMS message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignerReport {
    /// Subject common name (person or enterprise).
    pub signer: Option<String>,
    /// Subject organisation (O).
    pub enterprise: Option<String>,
    pub uscc: Option<String>,
    pub serial: String,
    pub subject: String,
    pub signature_algorithm: String,
    pub digest_algorithm: String,
    /// The signer's claim (signingTime), Unix seconds.
    pub claimed_signing_time: Option<u64>,
    /// genTime of the signature timestamp, Unix seconds.
    pub timestamp: Option<u64>,
    pub timestamp_authority: Option<String>,
    /// The time chain and revocation were checked at: the timestamp's, else `now`.
    pub checked_at: u64,
    /// Chain of the signer (and of the TSA) to the pinned root at `checked_at`.
    pub chain: Check,
    /// Revocation at `checked_at` from the CRLs given.
    pub revocation: Check,
    /// The GB/T 38540 seal signature the CMS carries (ADR 0021), if any: checked (both
    /// signatures, same signer, dataHash = messageDigest, maker chain to the pinned root,
    /// signer in the seal's list, seal valid when used) and what it says. The seal's
    /// revocation is the server's to tell (`verify-seal --server`).
    pub electronic_seal: Option<ElectronicSealCheck>,
}

/// A GB/T 38540 seal signature found in a PDF signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElectronicSealCheck {
    pub check: Check,
    pub seal: Option<crate::eseal::SealReport>,
}

/// One signature of a PDF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureReport {
    pub field: String,
    pub sub_filter: Option<String>,
    pub byte_range: Option<[u64; 4]>,
    /// The ByteRange digest is the messageDigest and the signature verifies.
    pub intact: bool,
    /// Why it is not intact (or could not be checked).
    pub error: Option<String>,
    pub covers_whole_file: bool,
    pub later_changes: LaterChanges,
    pub later_change_details: Vec<String>,
    /// The signer, when the CMS verified.
    pub signer: Option<SignerReport>,
}

impl SignatureReport {
    /// Intact, nothing but signatures after it, chain valid, not revoked.
    pub fn is_valid(&self) -> bool {
        self.intact
            && matches!(
                self.later_changes,
                LaterChanges::None | LaterChanges::SignaturesOnly
            )
            && self.signer.as_ref().is_some_and(|s| {
                s.chain.is_valid()
                    && !matches!(s.revocation, Check::Invalid(_))
                    && !s
                        .electronic_seal
                        .as_ref()
                        .is_some_and(|e| matches!(e.check, Check::Invalid(_)))
            })
    }
}

/// Every signature of a PDF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PdfReport {
    pub file_len: u64,
    pub revisions: usize,
    pub signatures: Vec<SignatureReport>,
}

impl PdfReport {
    /// At least one signature and every one valid.
    pub fn all_valid(&self) -> bool {
        !self.signatures.is_empty() && self.signatures.iter().all(SignatureReport::is_valid)
    }
}

/// Verify every signature of the PDF in `src`.
pub fn verify<F: Read + Seek>(src: F, opts: &VerifyOptions<'_>) -> Result<PdfReport> {
    let mut pdf = PdfFile::open(src)?;
    let fields = signature_fields(&mut pdf)?;
    let mut signatures = Vec::with_capacity(fields.len());
    for (name, sig) in fields {
        signatures.push(check_signature(&mut pdf, name, sig, opts)?);
    }
    Ok(PdfReport {
        file_len: pdf.len(),
        revisions: pdf.sections.len(),
        signatures,
    })
}

/// Signature fields with a value: (name, signature dictionary reference or value).
fn signature_fields<F: Read + Seek>(pdf: &mut PdfFile<F>) -> Result<Vec<(String, Object)>> {
    let (_, catalog) = pdf.catalog(None)?;
    let Some(form) = catalog.get(b"AcroForm").cloned() else {
        return Ok(Vec::new());
    };
    let form = pdf.resolve(&form, None)?;
    let Some(form) = form.as_dict() else {
        return Ok(Vec::new());
    };
    let roots = match pdf.resolve(form.get(b"Fields").unwrap_or(&Object::Null), None)? {
        Object::Array(a) => a,
        _ => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<(Object, String, bool, usize)> = roots
        .into_iter()
        .rev()
        .map(|f| (f, String::new(), false, 0))
        .collect();
    let mut walked = 0usize;
    while let Some((node, parent_name, parent_sig, depth)) = stack.pop() {
        walked += 1;
        if walked > MAX_FIELDS || depth > 32 {
            return Err(PdfProblem::TooMany("form fields").into());
        }
        if let Object::Ref(r) = node
            && !seen.insert(r)
        {
            continue;
        }
        let d = match pdf.resolve(&node, None)? {
            Object::Dict(d) => d,
            _ => continue,
        };
        let name = match d.get(b"T") {
            Some(Object::String(t)) => {
                let t = text_string(t);
                if parent_name.is_empty() {
                    t
                } else {
                    format!("{parent_name}.{t}")
                }
            }
            _ => parent_name.clone(),
        };
        let is_sig = match d.name(b"FT") {
            Some(ft) => ft == b"Sig",
            None => parent_sig,
        };
        if let Some(Object::Array(kids)) = d.get(b"Kids") {
            for k in kids.iter().rev() {
                stack.push((k.clone(), name.clone(), is_sig, depth + 1));
            }
        }
        if is_sig && let Some(v) = d.get(b"V") {
            if out.len() >= MAX_SIGNATURES {
                return Err(PdfProblem::TooMany("signatures (more than 1000)").into());
            }
            out.push((name, v.clone()));
        }
    }
    Ok(out)
}

fn text_string(t: &[u8]) -> String {
    if let Some(rest) = t.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        t.iter().map(|&b| char::from(b)).collect()
    }
}

fn check_signature<F: Read + Seek>(
    pdf: &mut PdfFile<F>,
    field: String,
    sig: Object,
    opts: &VerifyOptions<'_>,
) -> Result<SignatureReport> {
    let mut report = SignatureReport {
        field,
        sub_filter: None,
        byte_range: None,
        intact: false,
        error: None,
        covers_whole_file: false,
        later_changes: LaterChanges::Unknown,
        later_change_details: Vec::new(),
        signer: None,
    };
    let dict = match pdf.resolve(&sig, None) {
        Ok(Object::Dict(d)) => d,
        Ok(_) => {
            report.error = Some("the signature value is not a dictionary".into());
            return Ok(report);
        }
        Err(e) => {
            report.error = Some(e.to_string());
            return Ok(report);
        }
    };
    report.sub_filter = dict
        .name(b"SubFilter")
        .map(|s| String::from_utf8_lossy(s).into_owned());
    let br = match dict.get(b"ByteRange") {
        Some(Object::Array(a)) if a.len() == 4 => {
            let v: Vec<u64> = a
                .iter()
                .filter_map(|x| x.as_int().and_then(|i| u64::try_from(i).ok()))
                .collect();
            <[u64; 4]>::try_from(v).ok()
        }
        _ => None,
    };
    let len = pdf.len();
    let Some(br) = br.filter(|b| {
        b[0] == 0
            && b[1] < b[2]
            && b[2].checked_add(b[3]).is_some_and(|end| end <= len)
            && b[2] - b[1] <= 2 * MAX_CONTENTS as u64 + 2
    }) else {
        report.error = Some("missing or malformed /ByteRange".into());
        return Ok(report);
    };
    report.byte_range = Some(br);
    let Some(Object::String(contents)) = dict.get(b"Contents") else {
        report.error = Some("missing /Contents".into());
        return Ok(report);
    };
    // The gap must be exactly the hex string of /Contents, so nothing unsigned hides there.
    let gap = pdf.read_at(br[1], (br[2] - br[1]) as usize)?;
    let gap_ok = gap.first() == Some(&b'<')
        && gap.last() == Some(&b'>')
        && hex::decode(gap.get(1..gap.len() - 1).unwrap_or_default())
            .ok()
            .as_ref()
            == Some(contents);
    if !gap_ok {
        report.error = Some("the ByteRange gap is not the /Contents string".into());
        return Ok(report);
    }
    let der = match der_prefix(contents) {
        Some(d) => d,
        None => {
            report.error = Some("/Contents is not a DER CMS".into());
            return Ok(report);
        }
    };
    // Both digests in one pass; the signer's algorithm picks one.
    let mut sm3 = Hasher::new(HashAlgorithm::Sm3);
    let mut sha = Hasher::new(HashAlgorithm::Sha256);
    for (off, n) in [(br[0], br[1]), (br[2], br[3])] {
        pdf.for_range(off, n, |chunk| {
            sm3.update(chunk);
            sha.update(chunk);
        })?;
    }
    let digests = [
        (HashAlgorithm::Sm3, sm3.finish()),
        (HashAlgorithm::Sha256, sha.finish()),
    ];
    match verify_detached(der, &digests) {
        Ok(signer) => {
            report.intact = true;
            report.signer = Some(signer_report(&signer, opts));
        }
        Err(e) => report.error = Some(e),
    }
    let end = br[2] + br[3];
    report.covers_whole_file = end == len;
    if report.covers_whole_file {
        report.later_changes = LaterChanges::None;
    } else {
        let (changes, details) = later_changes(pdf, end)?;
        report.later_changes = changes;
        report.later_change_details = details;
    }
    Ok(report)
}

/// The DER element at the start of `bytes` (the zero padding after it cut off).
fn der_prefix(bytes: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = bytes.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (&l0, rest) = rest.split_first()?;
    let (len, hdr) = if l0 < 0x80 {
        (usize::from(l0), 2)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let len = rest
            .get(..n)?
            .iter()
            .fold(0usize, |a, b| a << 8 | usize::from(*b));
        (len, 2 + n)
    };
    bytes.get(..hdr.checked_add(len)?)
}

/// Verify a detached CMS against precomputed digests; exactly one signer.
fn verify_detached(
    der: &[u8],
    digests: &[(HashAlgorithm, Vec<u8>)],
) -> std::result::Result<VerifiedSigner, String> {
    let mut last = None;
    for (alg, d) in digests {
        match cms::verify_signed_data(
            der,
            Content::DetachedDigest {
                algorithm: *alg,
                digest: d,
            },
            &[],
        ) {
            Ok(v) => {
                let mut signers = v.signers;
                if signers.len() != 1 {
                    return Err("a PDF signature must have exactly one signer".into());
                }
                return Ok(signers.remove(0));
            }
            Err(CryptoError::Cms(CmsProblem::DigestAlgorithmMismatch)) if last.is_some() => {}
            Err(e) => {
                let mismatch = matches!(e, CryptoError::Cms(CmsProblem::DigestAlgorithmMismatch));
                if last.is_none() || !mismatch {
                    last = Some(e);
                }
            }
        }
    }
    Err(last.map_or_else(|| "malformed CMS".into(), |e| e.to_string()))
}

fn signer_report(s: &VerifiedSigner, opts: &VerifyOptions<'_>) -> SignerReport {
    let cert = &s.cert;
    let ts = s.timestamps.first();
    let at = ts.map_or(opts.now, |t| t.gen_time);
    let (chain, revocation) = match opts.anchor {
        None => (
            Check::NotChecked("no trusted root given".into()),
            Check::NotChecked("no trusted root given".into()),
        ),
        Some(anchor) => {
            chain_and_revocation(s, anchor, opts.tsa_anchor.unwrap_or(anchor), opts.crls, at)
        }
    };
    SignerReport {
        signer: cert.subject_common_name().ok().flatten(),
        enterprise: cert.subject_organization().ok().flatten(),
        uscc: cert.subject_uscc().ok().flatten(),
        serial: cert.serial_hex(),
        subject: cert.subject_string(),
        signature_algorithm: format!("{:?}", s.signature_algorithm),
        digest_algorithm: format!("{:?}", s.digest_algorithm),
        claimed_signing_time: s.attributes.as_ref().and_then(|a| a.signing_time),
        timestamp: ts.map(|t| t.gen_time),
        timestamp_authority: ts.and_then(|t| t.tsa_cert.subject_common_name().ok().flatten()),
        checked_at: at,
        chain,
        revocation,
        electronic_seal: electronic_seal(s, opts),
    }
}

fn electronic_seal(s: &VerifiedSigner, opts: &VerifyOptions<'_>) -> Option<ElectronicSealCheck> {
    let ses = match s.signer_info.ses_signature() {
        Ok(None) => return None,
        Ok(Some(ses)) => ses,
        Err(e) => {
            return Some(ElectronicSealCheck {
                check: Check::Invalid(e.to_string()),
                seal: None,
            });
        }
    };
    let digest = s.attributes.as_ref().map(|a| a.message_digest.as_slice());
    let checked = match opts.anchor {
        Some(anchor) => crate::eseal::verify(
            &ses,
            digest,
            &crate::timestamp::TsaTrust {
                roots: vec![anchor.root().clone()],
                intermediates: anchor.intermediates().to_vec(),
            },
        )
        .map_err(|e| e.to_string()),
        None => Err("no trusted root given".to_owned()),
    };
    Some(match checked {
        Ok(report) => {
            let same_signer = bidkey_crypto::ses::verify_signature(&ses, None, &[])
                .is_ok_and(|v| v.signer == s.cert);
            let check = if !same_signer {
                Check::Invalid("the seal signature is by another certificate".into())
            } else {
                match crate::eseal::refuse_unacceptable(&report) {
                    Ok(()) => Check::Valid,
                    Err(e) => Check::Invalid(e.to_string()),
                }
            };
            ElectronicSealCheck {
                check,
                seal: Some(report),
            }
        }
        Err(e) if opts.anchor.is_none() => ElectronicSealCheck {
            check: Check::NotChecked(e),
            seal: None,
        },
        Err(e) => ElectronicSealCheck {
            check: Check::Invalid(e),
            seal: None,
        },
    })
}

fn chain_and_revocation(
    s: &VerifiedSigner,
    anchor: &TrustAnchor,
    tsa_anchor: &TrustAnchor,
    crls: &[Crl],
    at: u64,
) -> (Check, Check) {
    let roots = std::slice::from_ref(anchor.root());
    let chain = match verify_chain_without_revocation(
        &s.cert,
        anchor.intermediates(),
        roots,
        at,
        RequiredUsage::Signing,
    ) {
        Ok(c) => c,
        Err(e) => {
            return (
                Check::Invalid(e.to_string()),
                Check::NotChecked("no chain".into()),
            );
        }
    };
    for ts in &s.timestamps {
        if let Err(e) = verify_chain_without_revocation(
            &ts.tsa_cert,
            tsa_anchor.intermediates(),
            std::slice::from_ref(tsa_anchor.root()),
            ts.gen_time,
            RequiredUsage::Signing,
        ) {
            return (
                Check::Invalid(format!("timestamp authority: {e}")),
                Check::NotChecked("no chain".into()),
            );
        }
    }
    if crls.is_empty() {
        return (Check::Valid, Check::NotChecked("no CRLs given".into()));
    }
    (Check::Valid, revocation_at(chain.certs(), crls, at))
}

/// Revocation at `at`: a certificate listed with a revocation time at or before `at` was
/// revoked when it signed; one revoked later signed while still good (the timestamp proves
/// when). Each issuer needs an authentic CRL that speaks for `at`:
/// - for the signer's own certificate, a CRL issued at or after `at` (the issuing CA is
///   online and publishes one on demand, so a late revocation of a stolen key shows);
/// - for a CA certificate, also the CRL that was current at `at` (`thisUpdate ≤ at <
///   nextUpdate`): the root signs its CRL (ARL) offline, rarely, and promises in its
///   policy (docs/ca.md) a new one at once when it revokes a CA, so a fresh signature is
///   checked without waiting for the next ARL (RFC 5280 §6.3 validation at `at`).
pub fn revocation_at(chain: &[Cert], crls: &[Crl], at: u64) -> Check {
    for (link, pair) in chain.windows(2).enumerate() {
        let (cert, issuer) = (&pair[0], &pair[1]);
        let of_a_ca = link > 0;
        let mut covering = false;
        for crl in crls.iter().filter(|c| c.issuer() == issuer.subject()) {
            if crl.verify_signature(issuer).is_err()
                || !issuer.key_usage().is_some_and(|ku| ku.crl_sign)
            {
                return Check::Invalid("a CRL does not verify".into());
            }
            match crl.find(cert.serial_bytes()) {
                Err(_) => return Check::Invalid("a CRL is malformed".into()),
                Ok(Some(e)) if e.reason != Some(CrlReason::RemoveFromCRL) && e.revoked_at <= at => {
                    return Check::Invalid(format!(
                        "certificate {} revoked at {} (before the signing time {at})",
                        cert.serial_hex(),
                        e.revoked_at
                    ));
                }
                Ok(_) => {}
            }
            let current_at_signing =
                crl.this_update() <= at && crl.next_update().is_some_and(|next| at < next);
            covering |= crl.this_update() >= at || (of_a_ca && current_at_signing);
        }
        if !covering {
            return Check::NotChecked(if of_a_ca {
                format!(
                    "no CRL of {} current at or issued after the signing time",
                    issuer.subject_string()
                )
            } else {
                format!(
                    "no CRL of {} issued after the signing time",
                    issuer.subject_string()
                )
            });
        }
    }
    Check::Valid
}

/// What the revisions after byte `end` changed.
fn later_changes<F: Read + Seek>(
    pdf: &mut PdfFile<F>,
    end: u64,
) -> Result<(LaterChanges, Vec<String>)> {
    // The signed part must end a revision: `%%EOF` (and an optional EOL) just before `end`.
    let tail = pdf.read_at(end.saturating_sub(8), end.min(8) as usize)?;
    let s = String::from_utf8_lossy(&tail);
    let ends_revision = s.trim_end_matches(['\r', '\n']).ends_with("%%EOF");
    if !ends_revision || !pdf.sections.iter().any(|s| s.offset < end) {
        return Ok((
            LaterChanges::Unknown,
            vec!["the signed bytes do not end a revision".into()],
        ));
    }
    if !pdf.sections.iter().any(|s| s.offset >= end) {
        return Ok((
            LaterChanges::Unknown,
            vec!["bytes after the signed revision that are not a revision".into()],
        ));
    }
    let changed: BTreeSet<u32> = pdf
        .sections
        .iter()
        .filter(|s| s.offset >= end)
        .flat_map(|s| s.entries.keys().copied())
        .collect();
    if changed.len() > MAX_CHANGED_OBJECTS {
        return Err(PdfProblem::TooMany("objects changed after signing").into());
    }
    let (root_old, cat_old) = pdf.catalog(Some(end))?;
    let form_old = cat_old.get(b"AcroForm").and_then(Object::as_ref);
    let mut details = Vec::new();
    for num in changed {
        let r = ObjRef { num, generation: 0 };
        let old = match pdf.entry(num, Some(end)) {
            None | Some(Entry::Free) => None,
            Some(_) => Some(pdf.resolve_ref(r, Some(end))?),
        };
        let new = match pdf.entry(num, None) {
            None | Some(Entry::Free) => None,
            Some(_) => Some(pdf.resolve_ref(r, None)?),
        };
        let (old, new) = match (old, new) {
            (None, _) | (Some(Object::Null), _) => continue, // added: harmless unless used
            (Some(_), None) => {
                details.push(format!("object {num} deleted"));
                continue;
            }
            (Some(o), Some(n)) => (o, n),
        };
        if old == new {
            continue;
        }
        let (Some(od), Some(nd)) = (old.as_dict(), new.as_dict()) else {
            details.push(format!("object {num} changed"));
            continue;
        };
        let ok = if matches!(old, Object::Stream(..)) || matches!(new, Object::Stream(..)) {
            false
        } else if num == root_old.num {
            od.same_except(nd, &[b"AcroForm", b"DSS", b"Perms"])
        } else if Some(num) == form_old.map(|f| f.num) {
            od.same_except(nd, &[b"Fields", b"SigFlags", b"DR", b"DA"])
        } else if od.name(b"Type") == Some(b"Page") {
            od.same_except(nd, &[b"Annots"]) && only_signature_annots(pdf, od, nd, end)?
        } else if od.name(b"FT") == Some(b"Sig") && od.get(b"V").is_none() {
            // An empty signature field being signed.
            od.same_except(nd, &[b"V", b"AP", b"F"])
        } else {
            false
        };
        if !ok {
            details.push(format!(
                "object {num} ({}) changed",
                od.name(b"Type")
                    .map(|t| String::from_utf8_lossy(t).into_owned())
                    .unwrap_or_else(|| "untyped".into())
            ));
        }
    }
    Ok(if details.is_empty() {
        (LaterChanges::SignaturesOnly, details)
    } else {
        (LaterChanges::Modified, details)
    })
}

/// Every annotation a page gained is a signature widget.
fn only_signature_annots<F: Read + Seek>(
    pdf: &mut PdfFile<F>,
    old: &super::object::Dict,
    new: &super::object::Dict,
    end: u64,
) -> Result<bool> {
    let list = |pdf: &mut PdfFile<F>, d: &super::object::Dict, cutoff| -> Result<Vec<Object>> {
        Ok(
            match pdf.resolve(d.get(b"Annots").unwrap_or(&Object::Null), cutoff)? {
                Object::Array(a) => a,
                _ => Vec::new(),
            },
        )
    };
    let before = list(pdf, old, Some(end))?;
    let after = list(pdf, new, None)?;
    if !before.iter().all(|a| after.contains(a)) {
        return Ok(false);
    }
    for a in after.iter().filter(|a| !before.contains(a)) {
        let d = pdf.resolve(a, None)?;
        let is_sig_widget = d.as_dict().is_some_and(|d| {
            d.name(b"Subtype") == Some(b"Widget")
                && (d.name(b"FT") == Some(b"Sig") || d.get(b"Parent").is_some())
        });
        if !is_sig_widget {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Verify a CMS SignedData on its own (`verify-cms`): every signer, chain and revocation at
/// its timestamp.
pub fn verify_cms(
    der: &[u8],
    content: Content<'_>,
    opts: &VerifyOptions<'_>,
) -> Result<Vec<SignerReport>> {
    let v = cms::verify_signed_data(der, content, &[])?;
    Ok(v.signers.iter().map(|s| signer_report(s, opts)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidkey_crypto::sm2::Sm2PrivateKey;
    use bidkey_crypto::x509::{
        CertProfile, CertTemplate, CrlTemplate, RevokedEntry, ca_subject, enterprise_subject,
    };

    const T0: u64 = 1_767_225_600;
    const DAY: u64 = 86_400;

    struct Pki {
        root_key: Sm2PrivateKey,
        ca_key: Sm2PrivateKey,
        chain: Vec<Cert>,
    }

    fn template(
        profile: CertProfile,
        subject: bidkey_crypto::x509::Name,
        key: &Sm2PrivateKey,
    ) -> CertTemplate {
        CertTemplate {
            profile,
            subject,
            public_key_spki: bidkey_crypto::x509::TbsSigner::public_key_spki(key).expect("spki"),
            not_before: T0 - DAY,
            not_after: T0 + 365 * DAY,
        }
    }

    fn pki() -> Pki {
        let root_key = Sm2PrivateKey::make_random().expect("key");
        let root = Cert::self_signed_root(
            ca_subject("根 CA", "Bidkey").expect("name"),
            &root_key,
            T0 - 10 * DAY,
            T0 + 3650 * DAY,
        )
        .expect("root");
        let ca_key = Sm2PrivateKey::make_random().expect("key");
        let ca = Cert::issue(
            &template(
                CertProfile::IssuingCa,
                ca_subject("签发 CA", "Bidkey").expect("name"),
                &ca_key,
            ),
            &root,
            &root_key,
        )
        .expect("ca");
        let leaf_key = Sm2PrivateKey::make_random().expect("key");
        let leaf = Cert::issue(
            &template(
                CertProfile::Signing,
                enterprise_subject("测试建设有限公司", "91350100M000100Y43").expect("name"),
                &leaf_key,
            ),
            &ca,
            &ca_key,
        )
        .expect("leaf");
        Pki {
            root_key,
            ca_key,
            chain: vec![leaf, ca, root],
        }
    }

    fn crl(
        issuer: &Cert,
        key: &Sm2PrivateKey,
        revoked: &[(&Cert, u64)],
        this: u64,
        next: u64,
    ) -> Crl {
        Crl::issue(
            &CrlTemplate {
                crl_number: 1,
                this_update: this,
                next_update: next,
                revoked: revoked
                    .iter()
                    .map(|(c, at)| RevokedEntry {
                        serial: c.serial_bytes().to_vec(),
                        revoked_at: *at,
                        reason: Some(CrlReason::KeyCompromise),
                    })
                    .collect(),
            },
            issuer,
            key,
        )
        .expect("crl")
    }

    #[test]
    fn a_ca_is_checked_by_the_arl_current_at_signing_and_the_signer_only_by_a_later_crl() {
        let p = pki();
        let (leaf, ca, root) = (&p.chain[0], &p.chain[1], &p.chain[2]);
        let signed_at = T0 + 30 * DAY;
        // The root signed its ARL offline at T0, valid a year; the issuing CA publishes on demand.
        let arl = crl(root, &p.root_key, &[], T0, T0 + 365 * DAY);
        let fresh = crl(ca, &p.ca_key, &[], signed_at + 60, signed_at + DAY);
        assert_eq!(
            revocation_at(&p.chain, &[arl.clone(), fresh.clone()], signed_at),
            Check::Valid
        );

        // The same leniency never applies to the signer's certificate: a CA CRL current at
        // signing but issued before it cannot show a key stolen and revoked just after.
        let old_ca_crl = crl(ca, &p.ca_key, &[], T0, T0 + 365 * DAY);
        assert!(matches!(
            revocation_at(&p.chain, &[arl.clone(), old_ca_crl], signed_at),
            Check::NotChecked(_)
        ));

        // An ARL that expired before the signing time speaks for nothing.
        let stale_arl = crl(root, &p.root_key, &[], T0 - 9 * DAY, T0 - DAY);
        assert!(matches!(
            revocation_at(&p.chain, &[stale_arl, fresh.clone()], signed_at),
            Check::NotChecked(_)
        ));

        // A CA revoked before the signing time is refused, by the current ARL or a later one.
        let revoked_arl = crl(
            root,
            &p.root_key,
            &[(ca, T0 + DAY)],
            T0 + DAY,
            T0 + 365 * DAY,
        );
        assert!(matches!(
            revocation_at(&p.chain, &[revoked_arl, fresh.clone()], signed_at),
            Check::Invalid(_)
        ));

        // The signer revoked after signing: the signature was made while the key was good.
        let later = crl(
            ca,
            &p.ca_key,
            &[(leaf, signed_at + 10)],
            signed_at + 20,
            signed_at + DAY,
        );
        assert_eq!(
            revocation_at(&p.chain, &[arl.clone(), later], signed_at),
            Check::Valid
        );
        // ...and before it: refused.
        let before = crl(
            ca,
            &p.ca_key,
            &[(leaf, signed_at - 10)],
            signed_at + 20,
            signed_at + DAY,
        );
        assert!(matches!(
            revocation_at(&p.chain, &[arl, before], signed_at),
            Check::Invalid(_)
        ));
    }

    #[test]
    fn der_prefix_cuts_the_padding_and_refuses_garbage() {
        assert_eq!(
            der_prefix(&[0x30, 2, 1, 2, 0, 0]),
            Some(&[0x30, 2, 1, 2][..])
        );
        assert_eq!(
            der_prefix(&[0x30, 0x81, 1, 9, 0]),
            Some(&[0x30, 0x81, 1, 9][..])
        );
        assert_eq!(der_prefix(&[0x30, 5, 1]), None);
        assert_eq!(der_prefix(&[0x30, 0x89, 1]), None);
        assert_eq!(der_prefix(&[0, 0]), None);
        assert_eq!(der_prefix(&[]), None);
    }
}
