//! Enterprise names as banks print them, compared with the registered name. The same name
//! reaches us written differently: full-width or half-width letters, digits and brackets
//! (`（北京）` or `(北京)`), spaces anywhere (banks pad or wrap names), letters in either
//! case, and different middle dots. [`normalise`] removes exactly those differences and no
//! others: `有限公司` and `有限责任公司` stay different, as they are different legal forms.

/// The comparable form of an enterprise name.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = match c {
            // Full-width ASCII (！ to ～) to half-width.
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            // Other bracket forms banks use.
            '〔' | '【' => '(',
            '〕' | '】' => ')',
            // Middle dots (names with foreign words: 阿里·巴巴).
            '\u{30fb}' | '\u{2022}' | '\u{2027}' | '\u{ff65}' => '·',
            c => c,
        };
        // ASCII (or just converted full-width) square and curly brackets.
        let c = match c {
            '[' | '{' => '(',
            ']' | '}' => ')',
            c => c,
        };
        if c.is_whitespace() || c == '\u{3000}' {
            continue;
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Whether a statement's payer name is the enterprise's registered name.
pub fn same(payer: &str, registered: &str) -> bool {
    let (a, b) = (normalise(payer), normalise(registered));
    !a.is_empty() && a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_brackets_spaces_and_case_do_not_matter() {
        let registered = "重庆比德科技（北京）有限公司";
        for printed in [
            "重庆比德科技（北京）有限公司",
            "重庆比德科技(北京)有限公司",
            "重庆比德科技 (北京) 有限公司",
            "重庆比德科技【北京】有限公司",
            "重庆比德科技[北京]有限公司",
            " 重庆比德科技（北京）有限公司\u{3000}",
            "重庆比德\n科技（北京）有限公司",
        ] {
            assert!(same(printed, registered), "{printed}");
        }
        assert!(same("ＡＢＣ建设有限公司", "abc建设有限公司"));
        assert!(same("中建三局第1工程有限公司", "中建三局第１工程有限公司"));
        assert!(same("阿里·巴巴有限公司", "阿里・巴巴有限公司"));
    }

    #[test]
    fn different_names_stay_different() {
        let registered = "重庆比德科技有限公司";
        for other in [
            "重庆比德科技有限责任公司",
            "重庆比德科技股份有限公司",
            "重庆比德科技",
            "重庆比特科技有限公司",
            "张三",
            "",
            "   ",
        ] {
            assert!(!same(other, registered), "{other:?}");
        }
        // Nothing equals an empty registered name.
        assert!(!same("", ""));
    }
}
