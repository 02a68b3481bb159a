DROP TRIGGER approval_requests_edge_commands ON ops.approval_requests;
DROP FUNCTION ops.edge_command_approval_closed();
DROP TABLE ops.edge_configurations;
DROP TABLE ops.edge_commands;
DROP FUNCTION ops.log_edge_command_change();
DROP FUNCTION ops.edge_command_redacted(jsonb);
DROP FUNCTION ops.edge_command_transition();
