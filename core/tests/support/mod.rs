//! Test support for the core: shared with other crates' tests through the testkit.

#![allow(unused_imports)]

pub use bidkey_testkit::phones::*;
