-- Every view of the catalogued layers checks its caller's rights (hub/warehouse/catalog.yaml: a
-- column a role may not read is not readable through a view either).
ALTER VIEW erp.open_items SET (security_invoker = true);
