---- tern: disable-tx ----
-- Rewrite qualifications without the dropped figures (021): VACUUM FULL
-- copies every live tuple afresh (dropped columns as null) and frees the
-- old ones, as 017 did for parties.
VACUUM FULL qualifications;
