//! Pure scan logic, without HTTP or storage: what a sign request's documents mean on the
//! confirmation screen ([`view`]) and what the phone signs for each of them
//! ([`what_is_signed`]), and what it checks of a signed request itself ([`request`]). The flows in `crate::flows::scan` fetch, co-sign and send.

pub mod request;
pub mod view;
pub mod what_is_signed;

pub use view::{DocumentRefusal, DocumentView, SealView, UsableSeal, document_views};
pub use what_is_signed::{seal_property_info, signed_attributes, signed_document};
