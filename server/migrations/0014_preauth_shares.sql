-- Pre-authorising a k-of-n bid (issue 17, ADR 0027): each share holder deposits their own
-- Shamir share split as K1 xor K2; share_of names whose share it is (the recipient's
-- encryption-certificate serial), threshold is the file's k. NULL / 1: the whole key.
ALTER TABLE preauths ADD COLUMN share_of TEXT;
ALTER TABLE preauths ADD COLUMN threshold BIGINT NOT NULL DEFAULT 1;
