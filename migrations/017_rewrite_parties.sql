---- tern: disable-tx ----
-- Rewrite parties without the dropped digest (016): VACUUM FULL copies
-- every live tuple afresh (dropped columns as null) and frees the old ones.
VACUUM FULL parties;
