//! The language of the CLI's messages when neither `--lang` nor `BIDKEY_LANG` says: the
//! locale, as POSIX programs read it (`LC_ALL`, then `LC_MESSAGES`, then `LANG`).

use bidkey_core::i18n::Lang;

/// The language of a locale environment: the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is
/// set and not empty decides; `zh…` (zh_CN.UTF-8, zh_TW, zh) is Chinese, any other locale
/// (`C`, `POSIX`, `en_US.UTF-8`, `de_DE`) English. With none set, Chinese, the language of
/// the service's users.
pub fn lang_from_locale(
    lc_all: Option<&str>,
    lc_messages: Option<&str>,
    lang: Option<&str>,
) -> Lang {
    match [lc_all, lc_messages, lang]
        .into_iter()
        .flatten()
        .find(|v| !v.is_empty())
    {
        None => Lang::Zh,
        Some(v) if v.to_ascii_lowercase().starts_with("zh") => Lang::Zh,
        Some(_) => Lang::En,
    }
}

/// [`lang_from_locale`] of this process's environment.
pub fn lang_from_env() -> Lang {
    let var = |k| std::env::var(k).ok();
    lang_from_locale(
        var("LC_ALL").as_deref(),
        var("LC_MESSAGES").as_deref(),
        var("LANG").as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locale_decides_in_posix_order() {
        assert_eq!(lang_from_locale(None, None, Some("zh_CN.UTF-8")), Lang::Zh);
        assert_eq!(lang_from_locale(None, None, Some("en_US.UTF-8")), Lang::En);
        assert_eq!(lang_from_locale(None, None, Some("C")), Lang::En);
        assert_eq!(
            lang_from_locale(Some("en_GB.UTF-8"), None, Some("zh_CN.UTF-8")),
            Lang::En,
            "LC_ALL wins"
        );
        assert_eq!(
            lang_from_locale(None, Some("zh_TW.UTF-8"), Some("en_US.UTF-8")),
            Lang::Zh,
            "LC_MESSAGES before LANG"
        );
        assert_eq!(
            lang_from_locale(Some(""), None, Some("en_US.UTF-8")),
            Lang::En,
            "an empty variable is unset"
        );
        assert_eq!(lang_from_locale(None, None, None), Lang::Zh);
    }
}
