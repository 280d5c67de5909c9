//! Pure scan logic, without HTTP or storage: what a sign request's documents mean on the
//! confirmation screen ([`view`]) and what the phone signs for each of them
//! ([`what_is_signed`]), what it checks of a signed request itself ([`request`]), the sessions it opened and the
//! shares auto-confirm holds ([`sessions`]), and of a bid-file key it
//! unwrapped before it hands it out ([`file_key`]). The flows in `crate::flows::scan` fetch, co-sign and send.

pub mod deep_link;
pub mod file_key;
pub mod request;
pub mod sessions;
pub mod view;
pub mod what_is_signed;
pub mod words;

pub use view::{DocumentRefusal, DocumentView, SealView, UsableSeal, document_views};
pub use what_is_signed::{seal_property_info, signed_attributes, signed_document};
