-- Audit records of these tables stay in the audit trail.
DROP TRIGGER stock_movements_post ON erp.stock_movements;
DROP FUNCTION erp.post_movement(), erp.apply_movement(erp.stock_movements, integer),
  erp.check_movement_shape(erp.stock_movements), erp.require_reference(regclass, uuid, text);
DROP TABLE erp.stock_movements;
DROP FUNCTION erp.refuse_ledger_change();
DROP TABLE erp.reservations;
DROP FUNCTION erp.hold_reservation();
DROP TABLE erp.serial_numbers, erp.project_stock, erp.stock, erp.warehouses, erp.articles;
