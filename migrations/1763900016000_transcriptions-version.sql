-- Up Migration
-- Every change to a transcript (a segment's text or speaker, a speaker rename) raises it by one; an
-- edit names the version it was made on, so two reviewers at once cannot overwrite each other.
ALTER TABLE transcriptions ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);

-- Down Migration
ALTER TABLE transcriptions DROP COLUMN version;
