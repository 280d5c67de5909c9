-- Bidkey wallet, version 3: biometric confirmation (ADR 0025). A share sealed with the
-- keystore's user-presence key (the person's fingerprint or face unlocks it for each use)
-- is marked; the setting itself is the meta row 'biometric'.
ALTER TABLE key_shares ADD COLUMN sealed_with_user INTEGER NOT NULL DEFAULT 0;
