//! `POST /v1/opening-hall` (issue 17 §5): the opening hall for a platform that keeps its
//! bids itself. The platform sends, per bid, the head of the stored file (its header) and
//! what it recorded (the bidder's self-check report, its opening, the words of its last
//! failure); the gateway reads the header, asks the Bidkey server which recipients can
//! still answer and what the file's pre-authorisation stands at, and words each row with
//! the SDK's hall ([`bidkey_platform::hall::row`]), in Chinese and English.

use crate::Gateway;
use crate::error::{GatewayError, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bidkey_platform::bidfile::BidFileHeader;
use bidkey_platform::hall::{self, HallFacts, HallRow, OpenedSeen, SelfCheckSeen};
use bidkey_platform::opening::Words;
use bidkey_protocol::certs::RevocationStatus;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// At most this many bids per call (a tender's opening hall).
pub const MAX_BIDS: usize = 200;
/// The head sent per bid: the first 64 KiB of a file always hold its header (32
/// recipients at most).
pub const MAX_HEAD: usize = 64 << 10;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HallRequest {
    pub bids: Vec<HallBid>,
}

/// One bid as the platform keeps it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HallBid {
    /// The platform's own id for the bid, echoed back.
    pub bid_id: String,
    /// The stored bid file's first bytes, at least its header (its first 64 KiB always
    /// are), base64.
    pub head: String,
    /// The bidder's 解密自检 report, if one came.
    #[serde(default)]
    pub self_check: Option<SelfCheckSeen>,
    /// The platform's record of the opening, once opened.
    #[serde(default)]
    pub opened: Option<OpenedSeen>,
    /// The words of the last failed attempt to open it (as the gateway gave them).
    #[serde(default)]
    pub failure: Option<Words>,
    /// k-of-n shares received so far.
    #[serde(default)]
    pub shares_received: u32,
}

/// One row of the hall.
#[derive(Debug, Serialize, Deserialize)]
pub struct HallEntry {
    pub bid_id: String,
    pub tender_id: String,
    pub file_name: String,
    /// The header's binding hash, hex (what a pre-authorisation is bound to).
    pub binding_hash: String,
    #[serde(flatten)]
    pub row: HallRow,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct HallView {
    pub bids: Vec<HallEntry>,
}

fn bad(i: usize, what: &str) -> GatewayError {
    GatewayError::BadRequest(format!("bids[{i}].{what}"))
}

/// Check the request's shape before anything is asked of the server.
fn parse(req: &HallRequest) -> Result<Vec<BidFileHeader>> {
    if req.bids.is_empty() || req.bids.len() > MAX_BIDS {
        return Err(GatewayError::BadRequest(format!("bids: 1 to {MAX_BIDS}")));
    }
    let mut headers = Vec::with_capacity(req.bids.len());
    for (i, b) in req.bids.iter().enumerate() {
        if b.bid_id.is_empty() || b.bid_id.len() > 128 {
            return Err(bad(i, "bid_id: 1-128 bytes"));
        }
        let long = |s: &str| s.len() > 500;
        if b.self_check.as_ref().is_some_and(|c| {
            c.device.len() > 100
                || c.reason_zh.as_deref().is_some_and(long)
                || c.reason_en.as_deref().is_some_and(long)
        }) || b.opened.as_ref().is_some_and(|o| o.by.len() > 200)
            || b.failure
                .as_ref()
                .is_some_and(|w| long(&w.zh) || long(&w.en))
            || b.shares_received > 32
        {
            return Err(bad(i, "a field is too long or out of range"));
        }
        if b.head.len() > MAX_HEAD / 3 * 4 + 4 {
            return Err(bad(i, "head: at most 64 KiB"));
        }
        let head = B64
            .decode(&b.head)
            .map_err(|_| bad(i, "head: not base64"))?;
        let h = BidFileHeader::read_from(&mut &head[..])
            .map_err(|e| bad(i, &format!("head: not a bid file header ({e})")))?;
        headers.push(h);
    }
    Ok(headers)
}

/// Whether the recipient's encryption certificate can still answer: valid and unexpired
/// (a member removed from the enterprise has theirs revoked, ADR 0026).
async fn can_answer(g: &Gateway, serial: &str) -> Result<bool> {
    let now = crate::store::unix_now();
    match g.client.cert_status(serial).await {
        Ok(s) => Ok(s.status == RevocationStatus::Good && s.not_after.is_none_or(|t| t > now)),
        // Not a certificate the server knows: it cannot answer.
        Err(bidkey_platform::PlatformError::Server(m))
            if m.starts_with("NotFound") || m.starts_with("CertificateNotFound") =>
        {
            Ok(false)
        }
        Err(bidkey_platform::PlatformError::Malformed(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub async fn hall_view(g: &Gateway, req: HallRequest) -> Result<HallView> {
    let headers = parse(&req)?;
    let platform_id = g.scan.platform_id().to_owned();
    let mut able_of: HashMap<String, bool> = HashMap::new();
    let mut out = Vec::with_capacity(req.bids.len());
    for (b, h) in req.bids.into_iter().zip(headers) {
        let recipients: Vec<String> = h.recipients.iter().map(|r| r.serial.clone()).collect();
        for s in &recipients {
            if !able_of.contains_key(s) {
                let ok = can_answer(g, s).await?;
                able_of.insert(s.clone(), ok);
            }
        }
        let able: Vec<String> = recipients
            .iter()
            .filter(|s| able_of.get(*s).copied().unwrap_or(false))
            .cloned()
            .collect();
        let binding = hex::encode(h.binding_hash()?);
        // A file made for another platform has no pre-authorisation here.
        let preauth = if h.platform_id == platform_id {
            Some(g.client.preauth_state(&platform_id, &binding).await?)
        } else {
            None
        };
        let row = hall::row(&HallFacts {
            recipients: &recipients,
            threshold: h.threshold,
            able: Some(&able),
            self_check: b.self_check.as_ref(),
            preauth: preauth.as_ref(),
            opened: b.opened.as_ref(),
            failure: b.failure.as_ref(),
            shares_received: b.shares_received as usize,
        });
        out.push(HallEntry {
            bid_id: b.bid_id,
            tender_id: h.tender_id.clone(),
            file_name: h.file_name.clone(),
            binding_hash: binding,
            row,
        });
    }
    Ok(HallView { bids: out })
}
