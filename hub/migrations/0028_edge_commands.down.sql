DROP TRIGGER approval_requests_edge_commands ON ops.approval_requests;
DROP FUNCTION ops.edge_command_approval_closed();
DROP TABLE ops.edge_commands;
DROP FUNCTION ops.edge_command_transition();
