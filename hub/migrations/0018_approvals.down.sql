-- Audit records of these tables stay in the audit trail.
DROP TABLE ops.approval_requests;
DROP FUNCTION ops.check_approval_decision();
DROP FUNCTION ops.check_approval_request();
DROP TABLE ops.approval_policies;
