-- Audit records of these tables stay in the audit trail.
DROP FUNCTION erp.close_period(date, text);
DROP TABLE erp.time_bookings;
DROP FUNCTION erp.guard_period(), erp.period_key(date);
DROP TABLE erp.periods;
DROP TABLE erp.tickets;
DROP FUNCTION erp.ticket_sla();
