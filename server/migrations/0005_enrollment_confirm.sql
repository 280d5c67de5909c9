-- ADR 0005: a new certificate pair replaces the holder's previous pairs only once the phone
-- confirms it holds the new pair and every delivered key (recovery still revokes at finish).
ALTER TABLE enrollments ADD COLUMN supersedes TEXT;    -- JSON list of the pair ids to end at confirm
ALTER TABLE enrollments ADD COLUMN confirmed_at BIGINT;
ALTER TABLE enrollments ADD COLUMN confirmation TEXT;  -- JSON EnrollConfirmation, the answer to a repeat
