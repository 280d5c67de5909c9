//! One module per area of the app; each has a clap `Cmd` and `run`.

pub mod account;
pub mod admin;
pub mod bid;
pub mod certs;
pub mod enterprise;
pub mod platforms;
pub mod scan;

use bidkey_protocol::accounts::{RealNameMethod, RealNameRequest};
use clap::{Args, ValueEnum};

/// The identity asked for by real-name, unlock and recovery.
#[derive(Debug, Args)]
pub struct Identity {
    /// Full legal name (姓名).
    #[arg(long)]
    pub name: String,
    /// Resident ID number (身份证号).
    #[arg(long)]
    pub id_number: String,
    /// How to verify.
    #[arg(long, value_enum, default_value_t = Method::Cfca)]
    pub method: Method,
    /// Bank card number (bank-card four-element check only).
    #[arg(long)]
    pub bank_card: Option<String>,
    /// Phone number registered with the bank (bank-card check only).
    #[arg(long)]
    pub bank_phone: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Method {
    /// 中金认证
    Cfca,
    /// 支付宝认证
    Alipay,
    /// 银行卡四要素认证
    BankCard4,
}

impl Identity {
    pub fn request(&self) -> RealNameRequest {
        RealNameRequest {
            method: match self.method {
                Method::Cfca => RealNameMethod::Cfca,
                Method::Alipay => RealNameMethod::Alipay,
                Method::BankCard4 => RealNameMethod::BankCard4,
            },
            name: self.name.clone(),
            id_number: self.id_number.clone(),
            bank_card: self.bank_card.clone(),
            bank_phone: self.bank_phone.clone(),
        }
    }
}
