//! Enrolments under way on this phone: what the phone needs to resume one from any point
//! (the server's enrolment id, the joint key and the co-signed CSR; the new signing share is
//! in `key_shares` under [`PendingEnrollment::share_key_id`]).

use super::Wallet;
use crate::error::Result;

/// An enrolment whose new pair is not yet wholly on this phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEnrollment {
    pub id: String,
    pub application_id: String,
    /// The joint signing key, SEC1.
    pub public_key: Vec<u8>,
    pub csr_der: Vec<u8>,
    pub created_at: i64,
}

impl PendingEnrollment {
    /// Where the new signing share waits until the certificate's serial is known.
    pub fn share_key_id(&self) -> String {
        pending_share_key_id(&self.id)
    }
}

/// The `key_shares` id of enrolment `id`'s new signing share.
pub fn pending_share_key_id(enrollment_id: &str) -> String {
    format!("pending-{enrollment_id}")
}

impl Wallet {
    /// Record an enrolment about to be finished (its share is stored first).
    pub fn put_pending_enrollment(&self, p: &PendingEnrollment) -> Result<()> {
        self.store().put_pending_enrollment(p)
    }

    /// The newest unfinished enrolment of `application_id`.
    pub fn pending_enrollment_for(
        &self,
        application_id: &str,
    ) -> Result<Option<PendingEnrollment>> {
        self.store().pending_enrollment_for(application_id)
    }

    /// Every unfinished enrolment, oldest first.
    pub fn pending_enrollments(&self) -> Result<Vec<PendingEnrollment>> {
        self.store().pending_enrollments()
    }

    /// Forget an enrolment and its pending share, together: it is finished, or abandoned.
    pub fn delete_pending_enrollment(&self, id: &str) -> Result<()> {
        self.store().delete_pending_enrollment(id)
    }

    /// Drop pending shares no enrolment row refers to (a crash between the two writes).
    pub fn drop_orphan_pending_shares(&self) -> Result<()> {
        self.store().drop_orphan_pending_shares()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::SoftwareKeystore;
    use crate::wallet::StoredShare;
    use bidkey_crypto::cosign::DeviceShare;
    use bidkey_crypto::pin::PinKdfParams;
    use std::sync::Arc;

    const FAST: PinKdfParams = PinKdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    fn pending(id: &str, app: &str, at: i64) -> PendingEnrollment {
        PendingEnrollment {
            id: id.into(),
            application_id: app.into(),
            public_key: vec![4, 1],
            csr_der: vec![0x30, 0],
            created_at: at,
        }
    }

    #[tokio::test]
    async fn a_pending_enrolment_survives_a_reopen_and_goes_with_its_share() {
        let dir = tempfile::tempdir().expect("dir");
        let w = Wallet::open(dir.path(), Arc::new(SoftwareKeystore::new(dir.path()))).expect("w");
        let share = DeviceShare::from_bytes(&[9u8; 32]).expect("share");
        let p = pending("e1", "a1", 5);
        for (key_id, pair) in [(p.share_key_id(), ""), ("pending-orphan".into(), "")] {
            let meta = StoredShare {
                key_id,
                pair_id: pair.into(),
                usage: "signing".into(),
                public_key: vec![4],
            };
            w.put_share(&meta, &share, "123456", FAST, 1)
                .await
                .expect("share");
        }
        w.put_pending_enrollment(&p).expect("pending");
        w.put_pending_enrollment(&pending("e0", "a1", 1))
            .expect("older");
        w.drop_orphan_pending_shares().expect("orphans");
        assert!(w.share_meta("pending-orphan").expect("meta").is_none());
        drop(w);

        let w = Wallet::open(dir.path(), Arc::new(SoftwareKeystore::new(dir.path()))).expect("w");
        assert_eq!(w.pending_enrollment_for("a1").expect("q"), Some(p.clone()));
        assert_eq!(w.pending_enrollment_for("a2").expect("q"), None);
        let err = w
            .share_with_pin("SERIAL", "123456", FAST)
            .await
            .expect_err("none");
        assert!(err.to_string().contains("resume"), "{err}");
        w.delete_pending_enrollment("e1").expect("delete");
        w.delete_pending_enrollment("e0").expect("delete");
        assert!(w.share_meta(&p.share_key_id()).expect("meta").is_none());
        assert!(w.pending_enrollments().expect("list").is_empty());
        let err = w
            .share_with_pin("SERIAL", "123456", FAST)
            .await
            .expect_err("none");
        assert!(!err.to_string().contains("resume"), "{err}");
    }

    #[tokio::test]
    async fn a_share_delivered_again_moves_to_the_new_pair() {
        let dir = tempfile::tempdir().expect("dir");
        let w = Wallet::open(dir.path(), Arc::new(SoftwareKeystore::new(dir.path()))).expect("w");
        let mut meta = StoredShare {
            key_id: "ENC1".into(),
            pair_id: "old".into(),
            usage: "encryption".into(),
            public_key: vec![4, 2],
        };
        let share = DeviceShare::from_bytes(&[3u8; 32]).expect("share");
        w.put_share(&meta, &share, "123456", FAST, 1)
            .await
            .expect("put");
        meta.pair_id = "new".into();
        w.put_share(&meta, &share, "123456", FAST, 2)
            .await
            .expect("again");
        assert_eq!(w.share_meta("ENC1").expect("meta"), Some(meta));
    }
}
