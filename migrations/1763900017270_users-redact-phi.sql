-- Up Migration
-- An admin can set a reviewer to see transcripts with PHI redacted by default ([NAME], [DATE]…);
-- revealing then takes a reason, which is audited.
ALTER TABLE users ADD COLUMN redact_phi boolean NOT NULL DEFAULT false;

-- Down Migration
ALTER TABLE users DROP COLUMN redact_phi;
