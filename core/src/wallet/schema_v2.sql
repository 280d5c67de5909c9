-- Bidkey wallet, version 2: enrolments not yet finished on this phone (ADR 0005). A row is
-- written, with the new signing share (key_shares 'pending-<id>'), before the server is
-- asked to issue; it goes once the phone holds the pair and every delivered key and the
-- server confirmed. A later `enroll` of the same application resumes from it.
CREATE TABLE IF NOT EXISTS enrollments (
    id TEXT PRIMARY KEY,              -- the server's enrolment id
    application_id TEXT NOT NULL,
    public_key BLOB NOT NULL,         -- joint signing key, SEC1
    csr_der BLOB NOT NULL,            -- the co-signed CSR, to send `finish` again
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS enrollments_application ON enrollments (application_id);
