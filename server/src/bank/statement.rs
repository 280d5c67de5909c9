//! Statement files as banks export them: CSV in UTF-8 or GBK (what Chinese banks' online
//! banking writes), with the bank's own column headings mapped to ours by the operator
//! (`[bank.columns]` in the configuration, docs/operations.md).

use super::{Line, check, parse_time, parse_yuan};
use bidkey_protocol::platforms::BankTransaction;
use serde::Deserialize;

/// The file's character encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// UTF-8 when the bytes are valid UTF-8 (or start with its BOM), GBK otherwise: GBK text
    /// with Chinese in it is practically never valid UTF-8.
    #[default]
    Auto,
    Utf8,
    /// GBK, decoded as its superset GB 18030.
    Gbk,
}

impl Encoding {
    pub fn parse(s: &str) -> Option<Encoding> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Some(Encoding::Auto),
            "utf-8" | "utf8" => Some(Encoding::Utf8),
            "gbk" | "gb2312" | "gb18030" => Some(Encoding::Gbk),
            _ => None,
        }
    }
}

/// Which heading of the bank's file holds each of our fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub bank_txn_id: String,
    pub booked_at: String,
    pub payer_account: String,
    pub payer_name: String,
    /// The credited amount in yuan; rows where it is empty (debits) are skipped.
    pub amount: String,
    /// The remark (附言/摘要); without it, lines match without a reference.
    pub reference: Option<String>,
}

impl Default for Columns {
    /// Our own headings (`bank_txn_id,booked_at,payer_account,payer_name,amount,reference`).
    fn default() -> Columns {
        Columns {
            bank_txn_id: "bank_txn_id".into(),
            booked_at: "booked_at".into(),
            payer_account: "payer_account".into(),
            payer_name: "payer_name".into(),
            amount: "amount".into(),
            reference: Some("reference".into()),
        }
    }
}

/// How to read a statement file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Format {
    pub encoding: Encoding,
    pub columns: Columns,
}

/// The file as text, or why it cannot be read in the configured encoding.
pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<String, String> {
    const BOM: &[u8] = b"\xef\xbb\xbf";
    let utf8 = |b: &[u8]| {
        let b = b.strip_prefix(BOM).unwrap_or(b);
        std::str::from_utf8(b).map(str::to_owned).map_err(|e| {
            format!(
                "the file is not UTF-8 (at byte {}); a GBK file needs bank.encoding = \"gbk\" or \"auto\"",
                e.valid_up_to()
            )
        })
    };
    let gbk = |b: &[u8]| {
        encoding_rs::GBK
            .decode_without_bom_handling_and_without_replacement(b)
            .map(|t| t.into_owned())
            .ok_or_else(|| "the file is neither UTF-8 nor GBK".to_owned())
    };
    match encoding {
        Encoding::Utf8 => utf8(bytes),
        Encoding::Gbk => gbk(bytes).map_err(|_| "the file is not GBK".to_owned()),
        Encoding::Auto if bytes.starts_with(BOM) => utf8(bytes),
        Encoding::Auto => utf8(bytes).or_else(|_| gbk(bytes)),
    }
}

/// Parse a statement file. Every bad line is reported (`line N: why`); a file with any is
/// refused whole. Rows without an amount (debits in a full account statement) are skipped.
pub fn parse(bytes: &[u8], format: &Format) -> Result<Vec<Line>, Vec<String>> {
    let text = decode(bytes, format.encoding).map_err(|e| vec![e])?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headings: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_owned()).collect(),
        Err(e) => return Err(vec![format!("line 1: the header cannot be read: {e}")]),
    };
    let c = &format.columns;
    let wanted = [
        ("bank_txn_id", Some(&c.bank_txn_id)),
        ("booked_at", Some(&c.booked_at)),
        ("payer_account", Some(&c.payer_account)),
        ("payer_name", Some(&c.payer_name)),
        ("amount", Some(&c.amount)),
        ("reference", c.reference.as_ref()),
    ];
    let mut index = [None; 6];
    let mut missing = Vec::new();
    for (i, (key, heading)) in wanted.iter().enumerate() {
        let Some(heading) = heading else { continue };
        match headings.iter().position(|h| h == *heading) {
            Some(p) => index[i] = Some(p),
            None => missing.push(format!(
                "line 1: the header has no column {heading:?} (bank.columns.{key})"
            )),
        }
    }
    if !missing.is_empty() {
        missing.push(format!(
            "line 1: the header's columns are: {}",
            headings.join(", ")
        ));
        return Err(missing);
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let n = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(format!("line {n}: {e}"));
                continue;
            }
        };
        let n = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != headings.len() {
            errors.push(format!(
                "line {n}: {} fields, the header has {}",
                record.len(),
                headings.len()
            ));
            continue;
        }
        let field = |i: usize| index[i].and_then(|p| record.get(p)).unwrap_or("");
        let amount = field(4);
        if amount.is_empty() {
            continue;
        }
        let Some(booked_at) = parse_time(field(1)) else {
            errors.push(format!(
                "line {n}: booked_at {:?} is neither Unix seconds nor YYYY-MM-DD HH:MM:SS",
                field(1)
            ));
            continue;
        };
        // Banks print thousands separators (1,234.56) and sometimes a plus sign.
        let plain: String = amount.chars().filter(|c| *c != ',').collect();
        let Some(amount_fen) = parse_yuan(plain.strip_prefix('+').unwrap_or(&plain)) else {
            errors.push(format!(
                "line {n}: amount {amount:?} is not yuan with at most two decimals"
            ));
            continue;
        };
        let t = BankTransaction {
            bank_txn_id: field(0).to_owned(),
            booked_at,
            payer_account: field(2).to_owned(),
            payer_name: Some(field(3).to_owned()),
            amount_fen,
            reference: Some(field(5).to_owned()),
        };
        match check(&t) {
            Ok(line) if !ids.insert(line.bank_txn_id.clone()) => {
                errors.push(format!(
                    "line {n}: bank_txn_id {} appears twice",
                    line.bank_txn_id
                ));
            }
            Ok(line) => out.push(line),
            Err(e) => errors.push(format!("line {n}: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a bank's online banking exports: GBK, its own headings, extra columns, debits.
    fn icbc_like() -> (Vec<u8>, Format) {
        let text = "交易日期,交易流水号,对方账号,对方户名,借方发生额,贷方发生额,附言,余额\r\n\
                    2026-03-01 10:15:00,ICBC0001,6222 0202 0000 1234 567,重庆比德科技（北京）有限公司,,0.37,对公打款认证 BK7Q2M4X,\"1,000.37\"\r\n\
                    2026-03-01 11:00:00,ICBC0002,6222020200007654321,某某物业,\"1,200.00\",,房租,\"-199.63\"\r\n\
                    2026/03/01 12:00:00,ICBC0003,6222020200001111111,张三,,\"1,234.56\",,\"1,035.19\"\r\n";
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
        assert!(!unmappable);
        let format = Format {
            encoding: Encoding::Gbk,
            columns: Columns {
                bank_txn_id: "交易流水号".into(),
                booked_at: "交易日期".into(),
                payer_account: "对方账号".into(),
                payer_name: "对方户名".into(),
                amount: "贷方发生额".into(),
                reference: Some("附言".into()),
            },
        };
        (bytes.into_owned(), format)
    }

    #[test]
    fn a_gbk_export_with_its_own_headings() {
        let (bytes, format) = icbc_like();
        // Not UTF-8: the bytes really are GBK.
        assert!(std::str::from_utf8(&bytes).is_err());
        let lines = parse(&bytes, &format).expect("parsed");
        assert_eq!(lines.len(), 2, "the debit is skipped: {lines:?}");
        assert_eq!(lines[0].bank_txn_id, "ICBC0001");
        assert_eq!(lines[0].last6, "234567");
        assert_eq!(lines[0].amount_fen, 37);
        assert_eq!(
            lines[0].payer_name.as_deref(),
            Some("重庆比德科技（北京）有限公司")
        );
        assert_eq!(lines[0].reference.as_deref(), Some("对公打款认证 BK7Q2M4X"));
        assert_eq!(lines[1].amount_fen, 123_456);
        // Auto-detection reads it too.
        let auto = Format {
            encoding: Encoding::Auto,
            ..format.clone()
        };
        assert_eq!(parse(&bytes, &auto).expect("auto"), lines);
        // Read as UTF-8 it is refused, saying why.
        let utf8 = Format {
            encoding: Encoding::Utf8,
            ..format
        };
        let e = parse(&bytes, &utf8).expect_err("not UTF-8");
        assert!(e[0].contains("not UTF-8"), "{e:?}");
    }

    #[test]
    fn a_missing_heading_is_named_with_its_key() {
        let (bytes, mut format) = icbc_like();
        format.columns.payer_name = "付款人名称".into();
        let e = parse(&bytes, &format).expect_err("no such column");
        assert!(
            e[0].contains("\"付款人名称\" (bank.columns.payer_name)"),
            "{e:?}"
        );
        assert!(e[1].contains("对方户名"), "{e:?}");
    }

    #[test]
    fn bad_rows_are_all_reported() {
        let text = "bank_txn_id,booked_at,payer_account,payer_name,amount,reference\n\
                    A,2026-03-01 10:15:00,6222020200001234567,甲,0.37,\n\
                    B,2026-03-01 10:15:00,6222020200001234567,乙,0.375,\n\
                    C,2026-03-01 10:15:00,62220,丙,0.37,\n\
                    D,2026-03-01,6222020200001234567,丁,0.37\n\
                    \"E,2026-03-01 10:15:00,6222020200001234567,戊,0.37,\n";
        let e = parse(text.as_bytes(), &Format::default()).expect_err("bad");
        assert!(
            e[0].starts_with("line 3:") && e[0].contains("amount"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("line 4:") && e[1].contains("payer_account"),
            "{e:?}"
        );
        assert!(
            e[2].starts_with("line 5:") && e[2].contains("fields"),
            "{e:?}"
        );
        assert_eq!(e.len(), 4, "{e:?}");
    }

    #[test]
    fn garbage_is_neither_encoding() {
        let e = decode(&[0xff, 0xfe, 0x81, 0x20], Encoding::Auto).expect_err("garbage");
        assert!(e.contains("neither UTF-8 nor GBK"), "{e}");
    }
}
