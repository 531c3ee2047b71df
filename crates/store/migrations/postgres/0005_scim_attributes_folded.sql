-- scim_attributes with every string value in Unicode lower case, computed by the application, so that SCIM filters
-- on attributes kept as sent can ignore case. Rows written before this migration are filled in by the application
-- right after it runs.
ALTER TABLE users ADD COLUMN scim_attributes_folded TEXT NOT NULL DEFAULT '{}';
