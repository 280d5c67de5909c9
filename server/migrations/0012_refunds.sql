-- ADR 0028: a paid order whose application is rejected is refunded, once. The refund number
-- sent to the vendor is derived from the order (`out_refund_no` / `out_request_no`), so a
-- retried call is the same refund at the vendor; these columns record where it stands.
ALTER TABLE orders ADD COLUMN refund_status TEXT;    -- NULL | pending | refunded
ALTER TABLE orders ADD COLUMN refund_ref TEXT;       -- the vendor's refund id
ALTER TABLE orders ADD COLUMN refund_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN refunded_at BIGINT;
