//! Private keys, key shares and one-shot protocol states are not `Clone` (issue 13 §7): one
//! copy of a secret exists and is wiped once, and a nonce state cannot answer twice.

use bidkey_crypto::cosign::{
    DeviceDecryptor, DeviceKeygen, DeviceShare, DeviceSigner, ServerShare,
};
use bidkey_crypto::p256::P256PrivateKey;
use bidkey_crypto::pin::PinMask;
use bidkey_crypto::scan::ReplySecret;
use bidkey_crypto::sm2::{Sm2PrivateKey, Sm2PublicKey};
use bidkey_crypto::x509::Sm2Signer;

/// Whether `$t` implements `Clone`, decided at compile time: the inherent constant exists
/// only when the bound holds, and takes precedence over the blanket trait's.
macro_rules! is_clone {
    ($t:ty) => {{
        #[allow(dead_code)]
        trait Fallback {
            const IS: bool = false;
        }
        impl<T: ?Sized> Fallback for T {}
        struct Probe<T: ?Sized>(core::marker::PhantomData<T>);
        #[allow(dead_code)]
        impl<T: ?Sized + Clone> Probe<T> {
            const IS: bool = true;
        }
        <Probe<$t>>::IS
    }};
}

#[test]
fn secrets_and_one_shot_states_are_not_clone() {
    assert!(is_clone!(Sm2PublicKey), "the probe sees Clone where it is");
    assert!(!is_clone!(Sm2PrivateKey));
    assert!(!is_clone!(P256PrivateKey));
    assert!(!is_clone!(Sm2Signer));
    assert!(!is_clone!(DeviceShare));
    assert!(!is_clone!(ServerShare));
    assert!(!is_clone!(PinMask));
    assert!(!is_clone!(ReplySecret));
    assert!(!is_clone!(DeviceKeygen));
    assert!(!is_clone!(DeviceSigner<'static>));
    assert!(!is_clone!(DeviceDecryptor<'static>));
}
