-- Bidkey server schema, version 9: GB/T 38540 electronic seals (docs/electronic-seals.md).
-- A seal the admin adds is 'pending' until the CA approves it; the seal maker then makes the
-- SESeal (eseal_der) naming the signing certificates of the staff the seal is granted to.
-- Changing the seal (name, picture, size, type, holders) makes it 'pending' again.
ALTER TABLE seals ADD COLUMN seal_type BIGINT NOT NULL DEFAULT 1;
ALTER TABLE seals ADD COLUMN width_mm BIGINT NOT NULL DEFAULT 40;
ALTER TABLE seals ADD COLUMN height_mm BIGINT NOT NULL DEFAULT 40;
ALTER TABLE seals ADD COLUMN status TEXT NOT NULL DEFAULT 'pending'; -- pending | approved | revoked
ALTER TABLE seals ADD COLUMN es_id TEXT;
ALTER TABLE seals ADD COLUMN eseal_der BLOB;
ALTER TABLE seals ADD COLUMN valid_start BIGINT;
ALTER TABLE seals ADD COLUMN valid_end BIGINT;
ALTER TABLE seals ADD COLUMN revoked_at BIGINT;
CREATE UNIQUE INDEX seals_es_id ON seals (es_id);

-- Who may use a seal (印章授权): members of the seal's enterprise.
CREATE TABLE seal_holders (
    seal_id TEXT NOT NULL REFERENCES seals (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (seal_id, account_id)
);
