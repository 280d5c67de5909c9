//! 交易平台: the list (nearest first with `--near`), and the platform this wallet works on.

use crate::app::App;
use crate::error::{CliError, Result};
use crate::output::{Out, opt};
use bidkey_core::flows::platforms::Location;
use bidkey_protocol::platforms::Platform;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// All platforms; `--near LAT,LON` sorts by distance.
    List {
        #[arg(long, value_parser = parse_location)]
        near: Option<Location>,
    },
    /// One platform.
    Show { platform_id: String },
    /// Choose the platform to work on (remembered in this wallet).
    Select { platform_id: String },
    /// The chosen platform.
    Current,
    /// Forget the chosen platform.
    Clear,
}

pub async fn run(app: &App, cmd: Cmd) -> Result<()> {
    let (core, out) = (&app.core, &app.out);
    let list = match cmd {
        Cmd::List { near } => core.platforms(near).await?,
        Cmd::Show { platform_id } => vec![core.platform(&platform_id).await?],
        Cmd::Select { platform_id } => vec![core.select_platform(&platform_id).await?],
        Cmd::Current => match core.current_platform()? {
            Some(p) => vec![p],
            None => {
                return Err(CliError::Core(bidkey_core::CoreError::NotFound(
                    out.t("已选择的平台", "a chosen platform").into(),
                )));
            }
        },
        Cmd::Clear => {
            core.clear_platform()?;
            return out.done("已清除所选平台。", "Platform choice cleared.");
        }
    };
    out.show(&list, |l| platforms_table(out, l))
}

fn platforms_table(out: &Out, list: &[Platform]) -> String {
    out.table(
        &[
            "ID",
            out.t("名称", "Name"),
            out.t("地区", "Region"),
            out.t("地址", "Origin"),
            out.t("距离", "Distance"),
        ],
        list.iter().map(|p| {
            vec![
                p.id.clone(),
                p.name.clone(),
                opt(&p.region),
                p.origin.clone(),
                p.distance_km
                    .map(|d| format!("{d:.1} km"))
                    .unwrap_or("-".into()),
            ]
        }),
    )
}

fn parse_location(s: &str) -> std::result::Result<Location, String> {
    let (lat, lon) = s
        .split_once(',')
        .ok_or_else(|| "expected LAT,LON".to_owned())?;
    let num = |v: &str| v.trim().parse::<f64>().map_err(|e| format!("{v}: {e}"));
    Ok(Location {
        latitude: num(lat)?,
        longitude: num(lon)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        let l = parse_location("33.96, 118.28").expect("parses");
        assert_eq!((l.latitude, l.longitude), (33.96, 118.28));
        assert!(parse_location("33.96").is_err());
        assert!(parse_location("a,b").is_err());
    }
}
